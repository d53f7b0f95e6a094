"""Must show, on the real backends: a job failing once with a node failure succeeds on attempt 2; a job
whose program exits 1 is not retried; time limits are enforced on both tracks.

Slurm: the node under a running attempt is set DOWN (``scontrol update state=down``: Slurm ends the job with
NODE_FAIL) and resumed in ``finally``. Kubernetes: the simulator's scripted outcomes (exit code, run time);
its pods honour activeDeadlineSeconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from dualtrack.v1 import broker_pb2 as pb
from tests.integration.lifecycle.cluster import (
    KUBE_BACKEND,
    SLURM_BACKEND,
    Broker,
    Client,
    SimHandle,
    job_yaml,
    slurm_cancel_named,
    slurm_objects,
    slurm_run,
)

pytestmark = [pytest.mark.slurm]
TERMINAL = (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED)


@pytest.fixture
def client(sim: SimHandle, make_broker: Callable[..., Broker], slurm: dict[str, str]) -> Iterator[Client]:
    # maxRetry 1: no in-place restart of the gang by Volcano, so an eviction reaches the broker's retry policy
    broker = make_broker(kubeconfig=sim.kubeconfig, reconciler={"timeLimitGraceSeconds": 30},
                         kube_settings={"maxRetry": 1})
    client = Client([broker.address])
    client.submitted = []  # type: ignore[attr-defined]
    yield client
    client.close()
    slurm_cancel_named(slurm, client.submitted)  # type: ignore[attr-defined]


def _submit(client: Client, text: str, key: str) -> str:
    job_id = str(client.submit(text, key).job.id)
    client.submitted.append(job_id)  # type: ignore[attr-defined]
    return job_id


def _until(client: Client, job_id: str, condition: Callable[[pb.Job], bool], timeout: float = 150.0) -> pb.Job:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(job_id)
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stuck: {job}")
        time.sleep(0.3)


def _node_of(env: dict[str, str], name: str) -> str:
    for line in slurm_run(env, "squeue", "-h", "-o", "%j|%N|%T").splitlines():
        job_name, _, rest = line.partition("|")
        node, _, state = rest.partition("|")
        if job_name == name and state == "RUNNING" and node:
            return node
    return ""


@pytest.mark.exclusive
def test_a_node_failure_on_slurm_is_retried_and_attempt_2_succeeds(client: Client, slurm: dict[str, str]) -> None:
    """The cluster has JobRequeue=1; the adapter renders --no-requeue so the failure reaches the broker's retry
    policy instead of Slurm requeueing the job itself. The test also sets requeue=0 on the job explicitly, so
    it checks the broker's retry even against an older adapter."""
    began = time.time()
    job_id = _submit(client, job_yaml("node-fail", "slurm", command="sleep 6"), "node-fail")
    running = _until(client, job_id, lambda j: j.state == pb.RUNNING)
    slurm_run(slurm, "scontrol", "update", f"jobid={running.backend_job_id}", "requeue=0")
    node = ""
    deadline = time.monotonic() + 30
    while not node and time.monotonic() < deadline:
        node = _node_of(slurm, f"dt-{job_id}-1")
    assert node, "attempt 1 is not running on any node"
    try:
        slurm_run(slurm, "scontrol", "update", f"nodename={node}", "state=down", "reason=dualtrack-lifecycle-test")
        retried = _until(client, job_id, lambda j: j.attempt >= 2)
        # (ReturnToService may already have brought it back: then resume is refused, harmlessly)
        slurm_run(slurm, "scontrol", "update", f"nodename={node}", "state=resume", check=False)
        node = ""
        done = _until(client, job_id, lambda j: j.state in TERMINAL)
    finally:
        if node:
            slurm_run(slurm, "scontrol", "update", f"nodename={node}", "state=resume", check=False)
    assert retried.attempt == 2
    assert done.state == pb.SUCCEEDED and done.attempt == 2, done
    objects = slurm_objects(slurm, began)
    assert objects[f"dt-{job_id}-1"] == 1 and objects[f"dt-{job_id}-2"] == 1


def test_an_eviction_on_kubernetes_is_retried_and_attempt_2_succeeds(client: Client, sim: SimHandle) -> None:
    job_id = _submit(client, job_yaml("evicted", "kubernetes"), "evicted")
    sim.script(f"dt-{job_id}-1", run_seconds=0.5, exit_code=137, reason="Evicted")
    done = _until(client, job_id, lambda j: j.state in TERMINAL)
    assert done.state == pb.SUCCEEDED and done.attempt == 2, done
    assert sim.created[f"dt-{job_id}-1"] == 1 and sim.created[f"dt-{job_id}-2"] == 1


@pytest.mark.parametrize("track", ["slurm", "kubernetes"])
def test_a_program_exiting_1_is_not_retried(client: Client, sim: SimHandle, slurm: dict[str, str],
                                            track: str) -> None:
    began = time.time()
    job_id = _submit(client, job_yaml(f"exit-1-{track}", track, command="exit 1"), f"exit-1-{track}")
    sim.script(f"dt-{job_id}-*", run_seconds=0.5, exit_code=1, reason="Error")
    done = _until(client, job_id, lambda j: j.state in TERMINAL)
    assert done.state == pb.FAILED and done.attempt == 1, done
    assert done.backend == (SLURM_BACKEND if track == "slurm" else KUBE_BACKEND)
    time.sleep(2)  # a retry would have been placed by now (retryBackoffSeconds: 0)
    again = client.get(job_id)
    assert again.state == pb.FAILED and again.attempt == 1
    if track == "slurm":
        assert slurm_objects(slurm, began)[f"dt-{job_id}-2"] == 0
    else:
        assert sim.created[f"dt-{job_id}-1"] == 1 and sim.created[f"dt-{job_id}-2"] == 0


@pytest.mark.slow
def test_time_limits_are_enforced_on_both_tracks(client: Client, sim: SimHandle) -> None:
    """Slurm kills at --time (whole minutes: 1m here); the simulator's pods at activeDeadlineSeconds (5 s).
    Neither is retried (a time-out is the job's own doing)."""
    slurm_job = _submit(client, job_yaml("limit-slurm", "slurm", command="sleep 600", time_limit="1m"), "limit-s")
    kube_job = _submit(client, job_yaml("limit-kube", "kubernetes", command="sleep 600", time_limit="5s"), "limit-k")
    sim.script(f"dt-{kube_job}-*", run_seconds=600)
    kube = _until(client, kube_job, lambda j: j.state in TERMINAL)
    slurm = _until(client, slurm_job, lambda j: j.state in TERMINAL, timeout=240)
    for job in (kube, slurm):
        assert job.state == pb.FAILED and job.attempt == 1, job
    assert "time limit" in slurm.reason.lower() or "timeout" in slurm.reason.lower(), slurm.reason
    assert "deadline" in kube.reason.lower() or "time limit" in kube.reason.lower(), kube.reason
