"""Fixtures of the process kubelet tests: a Kubernetes API simulator whose nodes run pods as processes
(``run: process``) on a free loopback port with its state in the test's tmp folder, the Volcano adapter on
its kubeconfig, and the broker (``dualtrack serve`` as a process, Kubernetes track only).

Skips with the package name when bubblewrap is absent (``scripts/setup.sh`` installs it)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from dualtrack.adapters.volcano import VolcanoBackend, from_config
from dualtrack.sim.kubeapi.config import ClusterConfig, node_group, write_kubeconfig
from dualtrack.sim.kubeapi.kubelet.config import KubeletConfig
from dualtrack.sim.kubeapi.server import KubeSim
from tests.integration.lifecycle.cluster import Broker, Client, broker_config, free_port

KUBE_BACKEND = "kube-local"


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


@pytest.fixture(scope="session")
def bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("the process kubelet needs bwrap (Debian package bubblewrap; scripts/setup.sh installs it)")


@pytest.fixture
def process_sim(tmp_path: Path, bwrap: None) -> Iterator[ProcessSim]:
    handle = start_process_sim(tmp_path)
    try:
        yield handle
    finally:
        handle.sim.stop()


@pytest.fixture
def kube_broker(tmp_path: Path, process_sim: ProcessSim) -> Iterator[Client]:
    """A broker with the Kubernetes track only (the process simulator); maxRetry 1: failures reach it at once."""
    config = broker_config(port=free_port(), store_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
                           kubeconfig=process_sim.kubeconfig, slurm=False, kube_settings={"maxRetry": 1})
    broker = Broker(config, tmp_path, "broker")
    broker.start()
    client = Client([broker.address])
    try:
        yield client
    finally:
        client.close()
        broker.stop()


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
