"""Must show: with slurmctld stopped mid-run, new jobs go to Kubernetes; a job pending on Slurm is rerouted
after its pendingTimeout; when slurmctld returns nothing runs twice.

The pending job: a 4-node job while a reservation holds n4 until a few seconds into the outage, so when
slurmctld returns the old attempt is immediately runnable: the race between Slurm starting it and the broker
cancelling it is real. What makes it safe: the reconciler sweeps zombies on a backend that comes back before
any other step (broker/reconciler/loop.py); the test checks in sacct that the old attempt never started.
slurmctld, the reservation and every job are restored or removed in ``finally``."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest

from dualtrack.v1 import broker_pb2 as pb
from tests.integration.lifecycle.cluster import (
    KUBE_BACKEND,
    REPO,
    SLURM_BACKEND,
    Broker,
    Client,
    SimHandle,
    job_yaml,
    slurm_cancel_named,
    slurm_env,
    slurm_run,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.exclusive]
TERMINAL = (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED)
RESERVATION = "dt-lifecycle-outage"
PENDING_TIMEOUT = 8


def _wait(what: str, check: Callable[[], object], timeout: float = 90.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _slurmctld_answers() -> bool:
    return slurm_env() is not None


def _slurm_down(client: Client) -> bool:
    listed = client.call("ListBackends", pb.ListBackendsRequest()).backends
    return any(b.name == SLURM_BACKEND and not b.healthy for b in listed)


def _sacct_record(env: dict[str, str], name: str) -> list[tuple[str, str, str]]:
    """(JobID, State, NodeList) of every Slurm job named ``name``; NodeList is "None assigned" for a job that
    never got an allocation (sacct's Start of a pending job that was cancelled is its end time, not a start)."""
    out = slurm_run(env, "sacct", "-a", "-X", "-n", "-P", "--name", name, "-o", "JobID,State,NodeList",
                    "-S", "now-1hour", check=False)
    return [tuple(line.split("|")[:3]) for line in out.splitlines() if line.strip()]  # type: ignore[misc]


def test_slurmctld_outage_reroutes_and_nothing_runs_twice(
        slurm: dict[str, str], sim: SimHandle, make_broker: Callable[..., Broker]) -> None:
    env = slurm
    sim.script("dt-*", run_seconds=3.0)
    # commandTimeout 5: with slurmctld stopped every Slurm command waits for its time-out
    broker = make_broker(kubeconfig=sim.kubeconfig, reconciler={"backendDownAfter": 2, "intervalSeconds": 0.5},
                         slurm_settings={"commandTimeout": 5}, start=False)
    broker.config["policies"] = {"trackPreference": {"lifecycle": "slurm"}, "weights": {"trackPreference": 100}}
    broker.start()
    client = Client([broker.address])
    ids: list[str] = []
    stopped = False
    try:
        end = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 30))
        slurm_run(env, "scontrol", "create", "reservation", f"reservationname={RESERVATION}", "starttime=now",
              f"endtime={end}", "nodes=n4", "users=daemon", "flags=ignore_jobs")
        big = job_yaml("outage-pending", "auto", command="sleep 2", workers=4,
                       extra=f"  reroute: {{pendingTimeout: {PENDING_TIMEOUT}s}}\n")
        job_id = client.submit(big, "outage-pending").job.id
        ids.append(job_id)
        queued = _wait("the job queued on Slurm", lambda: (j := client.get(job_id)).state == pb.QUEUED and j)
        assert queued.backend == SLURM_BACKEND, queued
        old_name = f"dt-{job_id}-1"

        subprocess.run([str(REPO / "scripts/slurm/stop.sh"), "slurmctld"], check=True, capture_output=True)
        stopped = True
        _wait("the broker to mark Slurm down", lambda: _slurm_down(client), 120)
        # new jobs go to Kubernetes while Slurm is down
        fresh = client.submit(job_yaml("outage-new", "auto", command="true"), "outage-new").job.id
        ids.append(fresh)
        done = _wait("the new job to finish", lambda: (j := client.get(fresh)).state in TERMINAL and j)
        assert done.backend == KUBE_BACKEND and done.state == pb.SUCCEEDED, done
        # the pending job is rerouted after its timeout
        moved = _wait("the reroute", lambda: (j := client.get(job_id)).backend == KUBE_BACKEND and j, 120)
        assert moved.attempt == 2

        _wait("the reservation to end", lambda: time.time() > time.mktime(time.strptime(end, "%Y-%m-%dT%H:%M:%S")) + 1)
        subprocess.run([str(REPO / "scripts/slurm/start.sh")], check=True, capture_output=True)
        stopped = False
        back_at = time.monotonic()
        _wait("slurmctld", _slurmctld_answers)
        record = _wait("the old attempt to end", lambda: [r for r in _sacct_record(env, old_name)
                                                          if r[1] not in ("PENDING", "RUNNING")])
        swept = time.monotonic() - back_at
        final = _wait("the rerouted job to finish", lambda: (j := client.get(job_id)).state in TERMINAL and j)
        print(f"old attempt {record} ended {swept:.1f}s after slurmctld was restarted")
        assert final.state == pb.SUCCEEDED and final.attempt == 2 and final.backend == KUBE_BACKEND
        assert len(record) == 1 and record[0][1].startswith("CANCELLED"), record
        assert record[0][2] == "None assigned", f"the old attempt started on Slurm: {record}"
        assert sim.created[f"dt-{job_id}-2"] == 1 and sim.created[old_name] == 0
    finally:
        if stopped or not _slurmctld_answers():
            subprocess.run([str(REPO / "scripts/slurm/start.sh")], capture_output=True)
            _wait("slurmctld", _slurmctld_answers)
        slurm_run(env, "scontrol", "delete", f"reservation={RESERVATION}", check=False)
        broker.kill9()
        client.close()
        slurm_cancel_named(env, ids)
