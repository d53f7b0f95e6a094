"""Fixtures: an in-process Kubernetes API simulator on a free loopback port, and the Volcano adapter built from
the kubeconfig it writes (exactly as the broker builds it: ``adapters.volcano.from_config``)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dualtrack.adapters.volcano import VolcanoBackend, from_config
from dualtrack.broker.domain import Job, new_job_id, parse_spec
from dualtrack.sim.kubeapi.config import ClusterConfig, default_cluster, node_group, write_kubeconfig
from dualtrack.sim.kubeapi.model import SimQueue
from dualtrack.sim.kubeapi.server import KubeSim

WAIT_SECONDS = 30.0


class Sim:
    """A running simulator plus helpers to script outcomes (the simulator's own admin endpoint)."""

    def __init__(self, sim: KubeSim, kubeconfig: Path):
        self.sim, self.kubeconfig, self.url = sim, kubeconfig, sim.url

    def script(self, pattern: str, run_seconds: float | None = None, exit_code: int = 0, reason: str = "") -> None:
        body = json.dumps({"pattern": pattern, "runSeconds": run_seconds, "exitCode": exit_code,
                           "reason": reason}).encode()
        req = urllib.request.Request(f"{self.url}/simulator/v1/script", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.sim.token}"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 201

    def backend(self, **settings: Any) -> VolcanoBackend:
        return from_config("kube-test", {"kubeconfig": str(self.kubeconfig), "requestTimeoutSeconds": 5,
                                         **settings})


def start_sim(tmp_path: Path, cluster: ClusterConfig, run_seconds: float = 30.0) -> tuple[KubeSim, Path]:
    sim = KubeSim(cluster, port=0, default_run_seconds=run_seconds, tick_seconds=0.05).start()
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, sim.url, sim.token)
    return sim, kubeconfig


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    """4 nodes x 8 A100 under 2 switches; queues default (unbounded) and capped (8 GPUs)."""
    cluster = default_cluster()
    cluster.queues.append(SimQueue("capped", 8))
    kube, kubeconfig = start_sim(tmp_path, cluster)
    try:
        yield Sim(kube, kubeconfig)
    finally:
        kube.stop()


@pytest.fixture
def small_sim(tmp_path: Path) -> Iterator[Sim]:
    """One node with 4 A100: a 1-GPU blocker leaves exactly 3 GPUs free."""
    kube, kubeconfig = start_sim(tmp_path, ClusterConfig(node_group(1, gpus=4)))
    try:
        yield Sim(kube, kubeconfig)
    finally:
        kube.stop()


def make_job(name: str, *, workers: int = 1, gpus: int = 1, tenant: str = "vision", **spec: Any) -> Job:
    doc = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name, "tenant": tenant},
           "spec": {"image": "busybox:1.36", "command": ["sh", "-c", "echo hi"],
                    "resources": {"workers": workers, "gpusPerWorker": gpus, "gpuType": "a100",
                                  "cpusPerWorker": 2, "memoryPerWorker": "4Gi"}, **spec}}
    return Job(id=new_job_id(), spec=parse_spec(doc))


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll until ``predicate()`` is truthy; fails the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
