"""The process kubelet: the step of the simulator's loop that runs the pods bound to ``run: process`` nodes.

Caller: ``sim.kubeapi.controller.VolcanoController.tick`` calls ``sync(model, store, pods)`` under the store
lock after the model stepped and the objects were written back; the HTTP layer calls ``log_text``.
``sync``:
1. starts a process (``PodProcess``) for every running pod of the model that is bound to a process node and
   has none yet: the gang's timer is switched off (its pods end when their processes do), the pod gets the
   lowest free GPU indices of its node (``CUDA_VISIBLE_DEVICES`` / ``NVIDIA_VISIBLE_DEVICES``), a host port
   per declared container port shared by the gang (``remap_ports``), a generated /etc/hosts naming every gang
   member on 127.0.0.1 and, with the ``svc`` plugin, Volcano's host files ``/etc/volcano/<task>.host``;
2. reports each process that ended by itself to the model (``finish_pod``: exit 0 -> Succeeded, else Failed,
   which fails the gang); when every process pod of a gang succeeded, its simulated members succeed too;
3. kills (SIGTERM, SIGKILL after the grace period) the process group of every pod whose model result is no
   longer running: the gang failed, passed ``activeDeadlineSeconds`` (the model's deadline), was restarted,
   evicted or its vcjob deleted; forgets processes that are gone and frees their GPU indices.
The container's output goes to ``<stateDir>/pods/<ns>/<pod>/<uid>/<container>.log``.
"""

from __future__ import annotations

import math
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dualtrack.sim.kubeapi.kubelet.config import KubeletConfig
from dualtrack.sim.kubeapi.kubelet.podenv import container_argv, container_env, pod_hostname, remap_ports
from dualtrack.sim.kubeapi.kubelet.process import PodProcess, Prepared
from dualtrack.sim.kubeapi.kubelet.rootfs import ImageStore
from dualtrack.sim.kubeapi.kubelet.sandbox import Mount, hosts_file, sandbox_argv
from dualtrack.sim.kubeapi.model import RUNNING, SUCCEEDED, ClusterModel, Gang
from dualtrack.sim.kubeapi.resources import Resource
from dualtrack.sim.kubeapi.store import ApiError, Obj, Store

HOST_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
JOB_LABEL, TASK_LABEL, INDEX_LABEL = "volcano.sh/job-name", "volcano.sh/task-spec", "volcano.sh/task-index"


@dataclass
class _Running:
    process: PodProcess
    node: str
    gpus: list[int] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProcessKubelet:
    """See the module docstring."""

    def __init__(self, config: KubeletConfig, process_nodes: set[str], node_gpus: Mapping[str, int]):
        self.config = config
        self.process_nodes = set(process_nodes)
        self._node_gpus = dict(node_gpus)
        self._own_state = config.state_dir is None
        self.state_dir = config.state_dir or Path(tempfile.mkdtemp(prefix="kubesim-kubelet-"))
        self.images = ImageStore(config.image_layouts, config.image_cache or self.state_dir / "images")
        self._running: dict[tuple[str, str], _Running] = {}  # (gang key, pod name) -> its process
        self._gpus_used: dict[str, set[int]] = {}
        self._ports: dict[str, dict[int, int]] = {}  # gang key -> declared container port -> host port
        self._grace_of: dict[tuple[str, str], float] = {}  # the pod's terminationGracePeriodSeconds

    # -- the loop step -----------------------------------------------------------------------------
    def sync(self, model: ClusterModel, store: Store, pods: Resource) -> None:
        for running in list(model.gangs.values()):
            if running.state == RUNNING:
                self._start_new(running, store, pods)
        for (key, name), entry in list(self._running.items()):
            gang = model.gangs.get(key)
            result = gang.results.get(name) if gang is not None else None
            if gang is not None and result is not None and result.phase == RUNNING and gang.state == RUNNING:
                entry.process.launch()
                ended = entry.process.exited()
                if ended is not None:
                    model.finish_pod(key, name, *ended)
                    if ended[0] == 0:
                        self._finish_simulated_members(model, gang)
            else:
                entry.process.kill(self._grace(key, name))
            if entry.process.reap():
                self._forget(key, name)
        live = {k for k, _ in self._running}
        for key in [k for k in self._ports if k not in live and k not in model.gangs]:
            self._ports.pop(key)

    def _grace(self, key: str, name: str) -> float:
        return self._grace_of.get((key, name), self.config.grace_period_seconds)

    def _finish_simulated_members(self, model: ClusterModel, gang: Gang) -> None:
        mine = [n for n, r in gang.results.items() if r.node in self.process_nodes]
        if all(gang.results[n].phase == SUCCEEDED for n in mine):
            for name, result in list(gang.results.items()):
                if result.phase == RUNNING:
                    model.finish_pod(gang.key, name, 0)

    def _forget(self, key: str, name: str) -> None:
        entry = self._running.pop((key, name))
        self._grace_of.pop((key, name), None)
        self._gpus_used.get(entry.node, set()).difference_update(entry.gpus)

    # -- starting ------------------------------------------------------------------------------------
    def _start_new(self, gang: Gang, store: Store, pods: Resource) -> None:
        ns = gang.key.split("/", 1)[0]
        for name, result in gang.results.items():
            if result.phase != RUNNING or result.node not in self.process_nodes or (gang.key, name) in self._running:
                continue
            try:
                pod = store.get(pods, ns, name)
            except ApiError:
                continue
            gang.run_seconds = math.inf  # its pods end when their processes do (the deadline still applies)
            request = next((p for p in gang.pods if p.name == name), None)
            gpus = self._take_gpus(result.node, request.gpus if request else 0)
            peers = self._peers(store, pods, pod)
            ports = self._ports_of(gang.key, pod)
            grace = pod["spec"].get("terminationGracePeriodSeconds")
            if isinstance(grace, int | float) and not isinstance(grace, bool):
                self._grace_of[(gang.key, name)] = float(grace)
            log = self.log_path(ns, name, pod["metadata"]["uid"], self._container(pod).get("name", "main"))
            process = PodProcess(self._preparer(pod, peers, gpus, ports, log.parent), log).start()
            self._running[(gang.key, name)] = _Running(process, result.node, gpus)

    def _take_gpus(self, node: str, count: int) -> list[int]:
        used = self._gpus_used.setdefault(node, set())
        free = [i for i in range(max(self._node_gpus.get(node, 0), count)) if i not in used][:count]
        used.update(free)
        return free

    @staticmethod
    def _peers(store: Store, pods: Resource, pod: Obj) -> list[Obj]:
        job = (pod["metadata"].get("labels") or {}).get(JOB_LABEL)
        if not job:
            return [pod]
        items, _ = store.list(pods, pod["metadata"]["namespace"],
                              lambda o: (o["metadata"].get("labels") or {}).get(JOB_LABEL) == job)
        return items

    def _ports_of(self, key: str, pod: Obj) -> dict[int, int]:
        mapping = self._ports.setdefault(key, {})
        for container in pod["spec"].get("containers") or ():
            for port in container.get("ports") or ():
                declared = port.get("containerPort")
                if isinstance(declared, int) and declared not in mapping:
                    mapping[declared] = _free_port()
        return dict(mapping)

    @staticmethod
    def _container(pod: Obj) -> Obj:
        containers = pod["spec"].get("containers") or [{}]
        return dict(containers[0])

    def _preparer(self, pod: Obj, peers: list[Obj], gpus: list[int], ports: dict[int, int],
                  pod_dir: Path) -> Any:
        def prepare() -> Prepared:
            container = self._container(pod)
            image = str(container.get("image") or "")
            location = self.images.find(image) if image else None
            if location is not None:
                base, config = self.images.rootfs(location, image)
                image_env, entrypoint, cmd = list(config.env), config.entrypoint, config.cmd
                workdir = str(container.get("workingDir") or config.working_dir or "/")
            else:
                base, image_env, entrypoint, cmd = Path("/"), [HOST_PATH_ENV], (), ()
                workdir = str(container.get("workingDir") or "/")
            extra = {}
            if gpus:
                extra = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus)),
                         "NVIDIA_VISIBLE_DEVICES": ",".join(map(str, gpus))}
            env = remap_ports(container_env(pod, container, image_env, extra), ports)
            argv = container_argv(container, env, entrypoint, cmd)
            hostname = pod_hostname(pod)
            hosts = pod_dir / "hosts"
            hosts.write_text(hosts_file(hostname, [self._aliases(p) for p in peers]))
            etc_files = self._volcano_files(pod, peers, pod_dir)
            mounts = self._mounts(pod, container, pod_dir)
            return sandbox_argv(base, hostname=hostname, hosts=hosts, argv=argv, workdir=workdir, mounts=mounts,
                                etc_files=etc_files), env

        return prepare

    @staticmethod
    def _aliases(pod: Obj) -> list[str]:
        host, spec = pod_hostname(pod), pod.get("spec") or {}
        sub, ns = spec.get("subdomain"), pod["metadata"].get("namespace", "default")
        return [f"{host}.{sub}.{ns}.svc.cluster.local", f"{host}.{sub}", host] if sub else [host]

    @staticmethod
    def _volcano_files(pod: Obj, peers: list[Obj], pod_dir: Path) -> list[tuple[Path, str]]:
        """Volcano's svc plugin: /etc/volcano/<task>.host lists the task's pods as ``<hostname>.<subdomain>``."""
        if not (pod.get("spec") or {}).get("subdomain"):
            return []
        tasks: dict[str, list[tuple[int, str]]] = {}
        for peer in peers:
            labels, spec = peer["metadata"].get("labels") or {}, peer.get("spec") or {}
            index = str(labels.get(INDEX_LABEL, "0"))
            tasks.setdefault(str(labels.get(TASK_LABEL, "task")), []).append(
                (int(index) if index.isdigit() else 0, f"{pod_hostname(peer)}.{spec.get('subdomain')}"))
        folder = pod_dir / "volcano"
        folder.mkdir(parents=True, exist_ok=True)
        for task, hosts in tasks.items():
            (folder / f"{task}.host").write_text("".join(f"{h}\n" for _, h in sorted(hosts)))
        return [(folder, "/etc/volcano")]

    def _mounts(self, pod: Obj, container: Obj, pod_dir: Path) -> list[Mount]:
        volumes = {v.get("name"): v for v in pod["spec"].get("volumes") or ()}
        mounts = []
        for vm in container.get("volumeMounts") or ():
            name, target = vm.get("name"), str(vm.get("mountPath") or "")
            volume = volumes.get(name)
            if volume is None:
                raise ValueError(f"volumeMounts {name}: no volume of that name in the pod")
            read_only = bool(vm.get("readOnly"))
            if "emptyDir" in volume:
                if (volume["emptyDir"] or {}).get("medium") == "Memory":
                    mounts.append(Mount(target, None))
                    continue
                source = pod_dir / "volumes" / str(name)
                source.mkdir(parents=True, exist_ok=True)
            elif "persistentVolumeClaim" in volume:
                claim = str((volume["persistentVolumeClaim"] or {}).get("claimName", ""))
                if claim not in self.config.claims:
                    raise ValueError(f"volume {name}: PVC {claim!r} is not in the kubelet's claims map")
                source = self.config.claims[claim]
                read_only = read_only or bool(volume["persistentVolumeClaim"].get("readOnly"))
            elif "hostPath" in volume:
                host = volume["hostPath"] or {}
                source = Path(str(host.get("path", "")))
                if host.get("type") == "DirectoryOrCreate":
                    source.mkdir(parents=True, exist_ok=True)
            else:
                raise ValueError(f"volume {name}: only emptyDir, persistentVolumeClaim and hostPath are supported")
            if vm.get("subPath"):
                source = source / str(vm["subPath"])
                if not read_only:
                    source.mkdir(parents=True, exist_ok=True)
            if not source.exists():
                raise ValueError(f"volume {name}: host folder {source} does not exist")
            mounts.append(Mount(target, source, read_only))
        return mounts

    def running(self) -> list[str]:
        """``<namespace>/<pod>`` of every container process not yet reaped (read-only; for tests and state)."""
        return sorted(f"{key.split('/', 1)[0]}/{name}" for key, name in list(self._running))

    # -- logs and shutdown ---------------------------------------------------------------------------
    def log_path(self, ns: str, name: str, uid: str, container: str) -> Path:
        return self.state_dir / "pods" / ns / name / uid / f"{container}.log"

    def log_text(self, pod: Obj, container: str | None = None, tail_lines: int | None = None) -> str:
        """What the pod's container wrote so far ('' for a pod that never ran as a process)."""
        name = container or self._container(pod).get("name", "main")
        path = self.log_path(pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"], name)
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
        return text

    def stop(self, timeout: float = 5.0) -> None:
        """Kill every container (SIGTERM, then SIGKILL after at most ``timeout``), remove a temporary state dir."""
        for entry in self._running.values():
            entry.process.kill(min(self.config.grace_period_seconds, timeout))
        deadline = time.monotonic() + timeout + 1
        while self._running and time.monotonic() < deadline:
            for key in [k for k, e in self._running.items() if e.process.reap()]:
                self._forget(*key)
            time.sleep(0.05)
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
