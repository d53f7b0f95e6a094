"""The preinstalled kubectl lists the simulator's objects (discovery, Table answers, short names)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dualtrack.broker.domain import Placement

from .conftest import Sim, make_job, wait_for

KUBECTL = shutil.which("kubectl")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")]


def kubectl(sim: Sim, *args: str) -> str:
    done = subprocess.run([str(KUBECTL), "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_kubectl_get_nodes_and_vcjobs(sim: Sim) -> None:
    nodes = kubectl(sim, "get", "nodes").splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert sorted(line.split()[0] for line in nodes[1:]) == ["gpu-1", "gpu-2", "gpu-3", "gpu-4"]
    assert all(line.split()[1] == "Ready" for line in nodes[1:])

    sim.script("dt-*", run_seconds=3600)
    backend = sim.backend()
    ref = backend.submit(make_job("listed", workers=2, gpus=2), Placement("kube-test"))
    wait_for(lambda: backend.observe([ref])[ref].phase.value == "RUNNING", "the job to run")
    jobs = kubectl(sim, "get", "vcjobs", "-A").splitlines()
    assert jobs[0].split()[:3] == ["NAMESPACE", "NAME", "STATUS"]
    assert [line.split()[:3] for line in jobs[1:]] == [["default", ref.name, "Running"]]
    pods = kubectl(sim, "get", "pods", "-n", "default", "-o", "name").split()
    assert sorted(pods) == [f"pod/{ref.name}-worker-0", f"pod/{ref.name}-worker-1"]
    assert "capped" in kubectl(sim, "get", "queues")
