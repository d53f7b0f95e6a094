"""A Kubernetes API simulator whose nodes run pods as processes (``run: process``), for tests: started on a free
loopback port with its kubelet state in the caller's folder, the Volcano adapter and the official client on
its kubeconfig; ``until`` polls a probe; ``processes_with`` finds processes by a token of their command line."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes

from dualtrack.adapters.volcano import VolcanoBackend, from_config
from dualtrack.sim.kubeapi.config import ClusterConfig, node_group, write_kubeconfig
from dualtrack.sim.kubeapi.kubelet.config import KubeletConfig
from dualtrack.sim.kubeapi.server import KubeSim


@dataclass
class ProcessSim:
    sim: KubeSim
    kubeconfig: Path

    def backend(self, **settings: Any) -> VolcanoBackend:
        return from_config("kube-test", {"kubeconfig": str(self.kubeconfig), "requestTimeoutSeconds": 5,
                                         "maxRetry": 1, **settings})

    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(self.kubeconfig)))


def start_process_sim(folder: Path, kubelet: KubeletConfig | None = None, nodes: int = 2,
                      gpus: int = 2) -> ProcessSim:
    """``nodes`` process nodes of ``gpus`` GPUs each; kubelet state under ``folder/kubelet``."""
    group = node_group(nodes, gpus=gpus, cpus=8, memory=32 * 1024**3)
    config = kubelet or KubeletConfig()
    config.state_dir = config.state_dir or folder / "kubelet"
    cluster = ClusterConfig(group, process_nodes={n.name for n in group}, kubelet=config)
    sim = KubeSim(cluster, port=0, tick_seconds=0.05).start()
    kubeconfig = folder / "kubeconfig"
    write_kubeconfig(kubeconfig, sim.url, sim.token)
    return ProcessSim(sim, kubeconfig)


def until(probe: Callable[[], Any], timeout: float = 120.0, what: str = "condition") -> Any:
    """Poll ``probe`` until it returns something truthy; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def processes_with(token: str) -> list[int]:
    """PIDs whose command line contains ``token`` (to prove a container's processes are gone)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if token in cmdline and int(entry) != os.getpid():
            pids.append(int(entry))
    return pids
