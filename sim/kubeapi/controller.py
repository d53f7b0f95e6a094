"""A Volcano-like controller over the simulator's store and cluster model.

Caller: ``sim.kubeapi.server.KubeSim`` (``admit`` on vcjob create, ``tick`` from its loop thread).
``tick()`` holds the store lock and:
1. syncs Queue and Node objects into the model (capability, Ready, cordon, taints, labels);
2. gives every new vcjob a PodGroup (``<job>-<uid>``) and pods ``<job>-<task>-<i>`` (labels and annotations
   as Volcano sets them, the env plugin's ``VK_TASK_INDEX``/``VC_TASK_INDEX``, the svc plugin's hostname and
   subdomain) and a gang in the model; forgets gangs whose vcjob was deleted (deleting their pods and group);
3. steps the model (finish due pods, gang-schedule pending groups);
4. writes the model back: pod phases, node names, container exit codes; PodGroup phase and ``Unschedulable``
   condition; vcjob ``status.state.phase`` (Pending, Running, Restarting, Completed, Failed); queue status.
A failed gang with a PodFailed/PodEvicted -> RestartJob policy raises ``retryCount``; it restarts (phase
Restarting) while ``retryCount < maxRetry`` and is Failed once it reaches it (Volcano's rule: at most maxRetry
runs in all); without such a policy the vcjob is Failed at once.

How long pods run and how they exit is the simulator's own script (``Script``), never the client's business;
pods bound to ``run: process`` nodes run for real instead: after writing back, ``tick`` hands the model to the
process kubelet (``sim.kubeapi.kubelet``), which starts, reports and kills their processes.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity as _parse_quantity

from dualtrack.sim.kubeapi.kubelet.kubelet import ProcessKubelet
from dualtrack.sim.kubeapi.model import (
    FAILED,
    GPU,
    PENDING,
    RUNNING,
    SUCCEEDED,
    ClusterModel,
    Gang,
    PodRequest,
    SimQueue,
)
from dualtrack.sim.kubeapi.resources import Registry, Resource
from dualtrack.sim.kubeapi.store import ApiError, Obj, Store, now_rfc3339

parse_quantity: Callable[[Any], Decimal] = _parse_quantity
DEFAULT_MAX_RETRY = 3  # what Volcano's mutating webhook puts into a vcjob without maxRetry
GROUP_NAME_ANNOTATION = "scheduling.k8s.io/group-name"
KILLED = "Killed"  # the model's reason for a gang member stopped because another member failed
TOPOLOGY_TIERS_MAX = 2


@dataclass
class Script:
    """A scripted outcome for vcjobs whose name matches ``pattern`` (fnmatch)."""

    pattern: str
    run_seconds: float | None = None
    exit_code: int = 0
    reason: str = ""


def _q(value: Any) -> Decimal:
    try:
        return Decimal(parse_quantity(value)) if value is not None else Decimal(0)
    except (ValueError, TypeError, ArithmeticError):
        return Decimal(0)


def _owned_by(uid: str) -> Callable[[Mapping[str, Any]], bool]:
    def check(obj: Mapping[str, Any]) -> bool:
        return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or ())

    return check


def _container_requests(container: dict[str, Any]) -> tuple[int, int, int]:
    res = container.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    gpus = int(_q(limits.get(GPU, requests.get(GPU))))
    cpu = int(_q(requests.get("cpu", limits.get("cpu"))) * 1000)
    mem = int(_q(requests.get("memory", limits.get("memory"))))
    return gpus, cpu, mem


class VolcanoController:
    """See the module docstring."""

    def __init__(self, store: Store, registry: Registry, model: ClusterModel, *, default_run_seconds: float,
                 clock: Callable[[], float], kubelet: ProcessKubelet | None = None):
        self.store = store
        self.kubelet = kubelet
        self.model = model
        self.default_run_seconds = default_run_seconds
        self.clock = clock
        self.scripts: list[Script] = []
        self.r_job = self._res(registry, "batch.volcano.sh", "jobs")
        self.r_pg = self._res(registry, "scheduling.volcano.sh", "podgroups")
        self.r_queue = self._res(registry, "scheduling.volcano.sh", "queues")
        self.r_pod = self._res(registry, "", "pods")
        self.r_node = self._res(registry, "", "nodes")
        self._gang_of: dict[str, str] = {}  # vcjob uid -> gang key
        self._restart_due: dict[str, float] = {}  # vcjob uid -> when to recreate its pods
        self._written: dict[str, tuple[Any, ...]] = {}  # gang key -> fingerprint last written back

    @staticmethod
    def _res(registry: Registry, group: str, plural: str) -> Resource:
        res = registry.by_key.get((group, plural))
        if res is None:
            raise ValueError(f"the simulator needs the {plural}.{group} resource (CRD missing from --crd-dir?)")
        return res

    # -- admission -------------------------------------------------------------------------------
    def admit(self, vcjob: Obj) -> None:
        """Volcano's validating webhook, in part: the queue must exist and be open (400 otherwise)."""
        queue = vcjob.get("spec", {}).get("queue") or "default"
        try:
            obj = self.store.get(self.r_queue, "", queue)
        except ApiError:
            raise ApiError(400, "BadRequest", 'admission webhook "validatejob.volcano.sh" denied the request: '
                           f'unable to find job queue: queues.scheduling.volcano.sh "{queue}" not found') from None
        state = obj.get("status", {}).get("state", "Open")
        if state != "Open":
            raise ApiError(400, "BadRequest", 'admission webhook "validatejob.volcano.sh" denied the request: '
                           f"can only submit job to queue with state `Open`, queue `{queue}` status is `{state}`")

    @staticmethod
    def mutate(vcjob: Obj) -> None:
        """Volcano's mutating webhook, in part: defaults for queue, schedulerName, maxRetry (0 -> 3),
        minAvailable (all replicas) and task names."""
        spec = vcjob.setdefault("spec", {})
        spec["queue"] = spec.get("queue") or "default"
        spec["schedulerName"] = spec.get("schedulerName") or "volcano"
        spec["maxRetry"] = spec.get("maxRetry") or DEFAULT_MAX_RETRY
        tasks = spec.get("tasks") or []
        if not spec.get("minAvailable"):
            spec["minAvailable"] = sum(int(t.get("replicas", 1)) for t in tasks if isinstance(t, dict))
        for i, task in enumerate(tasks):
            if isinstance(task, dict) and not task.get("name"):
                task["name"] = f"default{i}"

    def add_script(self, script: Script) -> None:
        with self.store.lock:
            self.scripts.insert(0, script)

    def _script_for(self, name: str) -> Script | None:
        return next((s for s in self.scripts if fnmatch.fnmatchcase(name, s.pattern)), None)

    # -- the loop body ---------------------------------------------------------------------------
    def tick(self) -> None:
        with self.store.lock:
            self._sync_queues()
            self._sync_nodes()
            live = {j["metadata"]["uid"]: j for j in self.store.peek(self.r_job)}
            self._forget_deleted(live)
            for uid, job in live.items():
                if uid not in self._gang_of and self._due(uid):
                    self._start_job(job)
            self._detect_evictions(live)
            self.model.step()
            for uid, job in live.items():
                key = self._gang_of.get(uid)
                gang = self.model.gangs.get(key) if key else None
                if key is not None and gang is not None and self._written.get(key) != self._fingerprint(gang):
                    self._write_back(job, gang)
                    if key in self.model.gangs:  # a restart forgets the gang while writing it back
                        self._written[key] = self._fingerprint(gang)
            self._write_queues()
            if self.kubelet is not None:
                self.kubelet.sync(self.model, self.store, self.r_pod)

    @staticmethod
    def _fingerprint(gang: Gang) -> tuple[Any, ...]:
        """What the objects written back depend on; unchanged gangs are not written again."""
        return gang.state, gang.message, tuple((n, r.phase, r.node, r.reason) for n, r in gang.results.items())

    def _due(self, uid: str) -> bool:
        due = self._restart_due.get(uid)
        if due is None or self.clock() >= due:
            self._restart_due.pop(uid, None)
            return True
        return False

    # -- sync in ---------------------------------------------------------------------------------
    def _sync_queues(self) -> None:
        queues, _ = self.store.list(self.r_queue, None)
        seen = set()
        for q in queues:
            name = q["metadata"]["name"]
            seen.add(name)
            cap = (q.get("spec", {}).get("capability") or {}).get(GPU)
            sim = self.model.queues.setdefault(name, SimQueue(name))
            sim.gpu_capability = int(_q(cap)) if cap is not None else None
            sim.state = q.get("status", {}).get("state") or q.get("spec", {}).get("state") or "Open"
        for name in list(self.model.queues):
            if name not in seen:
                self.model.queues[name].state = "Closed"

    def _sync_nodes(self) -> None:
        nodes, _ = self.store.list(self.r_node, None)
        for obj in nodes:
            sim = self.model.nodes.get(obj["metadata"]["name"])
            if sim is None:
                continue
            sim.unschedulable = bool(obj.get("spec", {}).get("unschedulable"))
            sim.taints = list(obj.get("spec", {}).get("taints") or [])
            ready = next((c for c in obj.get("status", {}).get("conditions") or () if c.get("type") == "Ready"), None)
            sim.ready = ready is None or ready.get("status") == "True"
            base = {k: v for k, v in sim.all_labels().items() if k not in sim.labels}
            sim.labels = {k: v for k, v in (obj["metadata"].get("labels") or {}).items() if base.get(k) != v}

    # -- vcjob -> podgroup, pods, gang -----------------------------------------------------------
    def _start_job(self, job: Obj) -> None:
        meta, spec = job["metadata"], job.get("spec", {})
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        status = job.get("status") or {}
        version = int(status.get("version", 0)) + (1 if status else 0)
        owner = [{"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "name": name, "uid": uid,
                  "controller": True, "blockOwnerDeletion": True}]
        pg_name = f"{name}-{uid}"
        plugins = spec.get("plugins") or {}
        requests: list[PodRequest] = []
        total = [0, 0, 0]
        for task in spec.get("tasks") or ():
            template = copy.deepcopy(task.get("template") or {})
            for i in range(int(task.get("replicas", 1))):
                pod = self._pod(job, task.get("name", "task"), i, template, pg_name, owner, version, plugins)
                self._replace(self.r_pod, ns, pod)
                gpus = cpu = mem = 0
                for c in pod["spec"].get("containers") or ():
                    g, cp, m = _container_requests(c)
                    gpus, cpu, mem = gpus + g, cpu + cp, mem + m
                total = [total[0] + gpus, total[1] + cpu, total[2] + mem]
                required = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
                    "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
                requests.append(PodRequest(pod["metadata"]["name"], gpus, cpu, mem,
                                           dict(pod["spec"].get("nodeSelector") or {}),
                                           list(pod["spec"].get("tolerations") or []), list(required)))
        min_member = int(spec.get("minAvailable") or len(requests))
        min_gpus = sum(r.gpus for r in requests[:min_member])
        pg = {"metadata": {"name": pg_name, "namespace": ns, "ownerReferences": owner,
                           "annotations": {"batch.volcano.sh/job-version": str(version)}},
              "spec": {"minMember": min_member, "queue": spec.get("queue") or "default",
                       "minResources": {GPU: str(min_gpus), "cpu": f"{total[1]}m", "memory": str(total[2])}},
              "status": {"phase": "Pending"}}
        if spec.get("priorityClassName"):
            pg["spec"]["priorityClassName"] = spec["priorityClassName"]
        if spec.get("networkTopology"):
            pg["spec"]["networkTopology"] = spec["networkTopology"]
        self._replace(self.r_pg, ns, pg)
        script = self._script_for(name)
        topology = spec.get("networkTopology") or {}
        tier = topology.get("highestTierAllowed")
        deadline = next((t.get("template", {}).get("spec", {}).get("activeDeadlineSeconds")
                         for t in spec.get("tasks") or ()), None)
        gang = Gang(
            key=f"{ns}/{name}/{uid}/{version}", pods=requests, min_member=min(min_member, len(requests)),
            queue=spec.get("queue") or "default",
            run_seconds=script.run_seconds if script and script.run_seconds is not None else self.default_run_seconds,
            exit_code=script.exit_code if script else 0, failure_reason=script.reason if script else "",
            deadline_seconds=float(deadline) if isinstance(deadline, int) else None,
            topology_tier=min(int(tier), TOPOLOGY_TIERS_MAX) if isinstance(tier, int) and tier > 0 else None,
            topology_mode=topology.get("mode", "hard"),
        )
        self.model.add_gang(gang)
        self._gang_of[uid] = gang.key
        if not status:
            self._set_job_status(job, {"state": {"phase": "Pending", "lastTransitionTime": now_rfc3339()},
                                       "minAvailable": min_member, "version": version})

    def _pod(self, job: Obj, task: str, index: int, template: Obj, pg_name: str, owner: list[Obj],
             version: int, plugins: dict[str, Any]) -> Obj:
        meta = job["metadata"]
        name = f"{meta['name']}-{task}-{index}"
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels.update({"volcano.sh/job-name": meta["name"], "volcano.sh/job-namespace": meta["namespace"],
                       "volcano.sh/queue-name": job.get("spec", {}).get("queue") or "default",
                       "volcano.sh/task-spec": task, "volcano.sh/task-index": str(index)})
        annotations = dict((template.get("metadata") or {}).get("annotations") or {})
        annotations.update({GROUP_NAME_ANNOTATION: pg_name, "volcano.sh/job-name": meta["name"],
                            "volcano.sh/task-spec": task, "volcano.sh/task-index": str(index),
                            "volcano.sh/job-version": str(version)})
        spec = copy.deepcopy(template.get("spec") or {})
        spec["schedulerName"] = job.get("spec", {}).get("schedulerName") or "volcano"
        if "svc" in plugins:
            spec["hostname"], spec["subdomain"] = name, meta["name"]
            for container in spec.get("containers") or ():
                container.setdefault("env", []).extend(self._svc_env(job))
        if "env" in plugins:
            for container in spec.get("containers") or ():
                container.setdefault("env", []).extend(
                    [{"name": "VK_TASK_INDEX", "value": str(index)}, {"name": "VC_TASK_INDEX", "value": str(index)}])
        return {"metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                             "annotations": annotations, "ownerReferences": owner},
                "spec": spec, "status": {"phase": "Pending"}}

    @staticmethod
    def _svc_env(job: Obj) -> list[Obj]:
        """Volcano's svc plugin variables: ``VC_<TASK>_HOSTS`` (every pod's ``<pod>.<job>``) and ``VC_<TASK>_NUM``."""
        name, env = job["metadata"]["name"], []
        for task in job.get("spec", {}).get("tasks") or ():
            task_name, replicas = str(task.get("name", "task")), int(task.get("replicas", 1))
            key = task_name.upper().replace("-", "_")
            hosts = ",".join(f"{name}-{task_name}-{i}.{name}" for i in range(replicas))
            env += [{"name": f"VC_{key}_HOSTS", "value": hosts}, {"name": f"VC_{key}_NUM", "value": str(replicas)}]
        return env

    def _replace(self, res: Resource, ns: str, obj: Obj) -> None:
        try:
            self.store.delete(res, ns, obj["metadata"]["name"])
        except ApiError:
            pass
        self.store.create(res, ns, obj)

    def _forget_deleted(self, live: dict[str, Obj]) -> None:
        for uid in [u for u in self._gang_of if u not in live]:
            key = self._gang_of.pop(uid)
            self.model.remove_gang(key)
            self._written.pop(key, None)
            self._delete_children(uid)
        for uid in [u for u in self._restart_due if u not in live]:
            self._restart_due.pop(uid)
            self._delete_children(uid)

    def _delete_children(self, uid: str) -> None:
        for res in (self.r_pod, self.r_pg):
            items, _ = self.store.list(res, None, _owned_by(uid))
            for item in items:
                try:
                    self.store.delete(res, item["metadata"]["namespace"], item["metadata"]["name"])
                except ApiError:
                    pass

    def _detect_evictions(self, live: dict[str, Obj]) -> None:
        """A running pod deleted through the API counts as evicted: its gang fails as an infra failure."""
        running = [(uid, key) for uid, key in self._gang_of.items()
                   if (g := self.model.gangs.get(key)) is not None and g.state == RUNNING]
        if not running:
            return
        present = {(p["metadata"].get("namespace"), p["metadata"]["name"]) for p in self.store.peek(self.r_pod)}
        for uid, key in running:
            gang = self.model.gangs[key]
            ns = live[uid]["metadata"]["namespace"]
            gone = [name for name, r in gang.results.items() if r.phase == RUNNING and (ns, name) not in present]
            if gone:
                self.model.remove_gang(key)
                gang.state, gang.finished_at = FAILED, self.clock()
                for name in gone:
                    gang.results[name].phase, gang.results[name].reason = FAILED, "Evicted"
                self.model.gangs[key] = gang

    # -- write back ------------------------------------------------------------------------------
    def _write_back(self, job: Obj, gang: Gang) -> None:
        ns = job["metadata"]["namespace"]
        counts = {PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0}
        for pod in gang.pods:
            result = gang.results.get(pod.name)
            phase = result.phase if result else PENDING
            counts[phase] = counts.get(phase, 0) + 1
            self._write_pod(ns, pod.name, gang, result)
        self._write_podgroup(job, gang, counts)
        self._write_job(job, gang, counts)

    def _write_pod(self, ns: str, name: str, gang: Gang, result: Any) -> None:
        try:
            pod = self.store.get(self.r_pod, ns, name)
        except ApiError:
            return
        status: Obj = {"phase": PENDING, "qosClass": "Burstable"}
        containers = [c.get("name", "main") for c in pod["spec"].get("containers") or ()]
        if result is None or result.node is None:
            status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                     "message": gang.message or (result.reason if result else "")}]
        else:
            pod["spec"]["nodeName"] = result.node
            started = now_rfc3339(result.started_at)
            status.update({"phase": result.phase, "startTime": started, "hostIP": "127.0.0.1",
                           "podIP": "10.244.0." + str(1 + hash(name) % 250)})
            status["conditions"] = [{"type": "PodScheduled", "status": "True"}]
            if result.phase == RUNNING:
                state: Obj = {"running": {"startedAt": started}}
            else:
                state = {"terminated": {"exitCode": result.exit_code, "reason": result.reason or "Error",
                                        "startedAt": started,
                                        "finishedAt": now_rfc3339(result.finished_at)}}
            if result.reason == "DeadlineExceeded":
                status.update({"reason": "DeadlineExceeded",
                               "message": "Pod was active on the node longer than the specified deadline"})
            if result.reason == "Evicted":
                return
            if result.reason == KILLED:  # Volcano deletes the running pods of a gang that failed
                self.store.delete(self.r_pod, ns, name)
                return
            status["containerStatuses"] = [{"name": c, "ready": result.phase == RUNNING, "restartCount": 0,
                                            "image": "", "imageID": "", "state": state} for c in containers]
        pod["status"] = status
        pod["metadata"].pop("resourceVersion", None)
        self.store.update(self.r_pod, ns, name, pod, whole=True)

    def _write_podgroup(self, job: Obj, gang: Gang, counts: dict[str, int]) -> None:
        ns, uid = job["metadata"]["namespace"], job["metadata"]["uid"]
        try:
            pg = self.store.get(self.r_pg, ns, f"{job['metadata']['name']}-{uid}")
        except ApiError:
            return
        phase = {PENDING: "Pending", RUNNING: "Running"}.get(gang.state, "Completed")
        if gang.state == PENDING and gang.message:
            conditions = [{"type": "Unschedulable", "status": "True", "reason": "NotEnoughResources",
                           "message": gang.message, "transitionID": gang.key,
                           "lastTransitionTime": now_rfc3339(gang.created_at)}]
        elif gang.state == PENDING:
            conditions = []
        else:
            conditions = [{"type": "Scheduled", "status": "True", "reason": "tasks in gang are ready to be scheduled",
                           "transitionID": gang.key, "lastTransitionTime": now_rfc3339(gang.started_at)}]
        pg["status"] = {"phase": phase, "conditions": conditions, "running": counts[RUNNING],
                        "succeeded": counts[SUCCEEDED], "failed": counts[FAILED]}
        self.store.update(self.r_pg, ns, pg["metadata"]["name"], pg, status_only=True)

    def _restart_policy(self, job: Obj, gang: Gang) -> bool:
        evicted = any(r.reason == "Evicted" for r in gang.results.values())
        event = "PodEvicted" if evicted else "PodFailed"
        for policy in job.get("spec", {}).get("policies") or ():
            events = policy.get("events") or [policy.get("event")]
            if (event in events or "*" in events) and policy.get("action") == "RestartJob":
                return True
        return False

    def _write_job(self, job: Obj, gang: Gang, counts: dict[str, int]) -> None:
        status = copy.deepcopy(job.get("status") or {})
        retries = int(status.get("retryCount", 0))
        phase = {PENDING: "Pending", RUNNING: "Running", SUCCEEDED: "Completed"}.get(gang.state, "Failed")
        message = gang.message if gang.state == PENDING else ""
        if gang.state == FAILED:
            failed = next((f"{n}: {r.reason} (exit code {r.exit_code})" for n, r in gang.results.items()
                           if r.phase == FAILED), "")
            max_retry = int(job.get("spec", {}).get("maxRetry") or DEFAULT_MAX_RETRY)
            if self._restart_policy(job, gang):
                # Volcano: RestartJob raises retryCount; the Restarting state fails the job once
                # retryCount reaches maxRetry, so the gang runs at most maxRetry times in all.
                retries += 1
                if retries < max_retry:
                    phase = "Restarting"
                    uid = job["metadata"]["uid"]
                    self.model.remove_gang(self._gang_of.pop(uid))
                    self._restart_due[uid] = self.clock() + 0.5
            message = f"pod failed: {failed}" if failed else "pod failed"
        previous = (status.get("state") or {}).get("phase")
        state = dict(status.get("state") or {})
        state.update({"phase": phase, "message": message})
        if previous != phase:
            state["lastTransitionTime"] = now_rfc3339()
            state["reason"] = {"Restarting": "PodFailed", "Failed": "PodFailed", "Completed": "TaskCompleted"}.get(
                phase, "")
        status.update({"state": state, "running": counts[RUNNING], "succeeded": counts[SUCCEEDED],
                       "failed": counts[FAILED], "pending": counts[PENDING], "retryCount": retries,
                       "minAvailable": gang.min_member,
                       "taskStatusCount": {"worker": {"phase": {k: v for k, v in counts.items() if v}}}})
        self._set_job_status(job, status)

    def _set_job_status(self, job: Obj, status: Obj) -> None:
        job = copy.deepcopy(job)
        job["status"] = status
        job["metadata"].pop("resourceVersion", None)
        self.store.update(self.r_job, job["metadata"]["namespace"], job["metadata"]["name"], job, status_only=True)

    def _write_queues(self) -> None:
        counts: dict[str, dict[str, int]] = {}
        for gang in self.model.gangs.values():
            c = counts.setdefault(gang.queue, {"pending": 0, "running": 0, "completed": 0})
            key = {PENDING: "pending", RUNNING: "running"}.get(gang.state, "completed")
            c[key] += 1
        queues, _ = self.store.list(self.r_queue, None)
        for q in queues:
            name = q["metadata"]["name"]
            sim = self.model.queues.get(name)
            status = dict(q.get("status") or {})
            status.setdefault("state", "Open")
            status["allocated"] = {GPU: str(sim.allocated_gpus if sim else 0)}
            status.update(counts.get(name, {"pending": 0, "running": 0, "completed": 0}))
            q["status"] = status
            q["metadata"].pop("resourceVersion", None)
            self.store.update(self.r_queue, "", name, q, status_only=True)
