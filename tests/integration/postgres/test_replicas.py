"""Several ``dualtrack serve`` replicas on one PostgreSQL, against the real Slurm cluster and the Kubernetes
simulator: all accept submissions and serve reads, exactly one reconciles, and when it is killed (-9)
another takes over. No job is ever dispatched twice: backend objects are counted by name per ``dt-<id>-<n>``
(sacct/squeue on Slurm, every vcjob creation on the simulator). Prints the measured takeover time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.lifecycle.cluster import (
    SLURM_SKIP,
    Broker,
    Burst,
    Client,
    SimHandle,
    broker_config,
    free_port,
    job_yaml,
    slurm_cancel_named,
    slurm_env,
    slurm_objects,
    start_sim,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slurm]
LEASE_SECONDS = 2.0


@pytest.fixture
def slurm() -> dict[str, str]:
    env = slurm_env()
    if env is None:
        pytest.skip(SLURM_SKIP)
    return env


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimHandle]:
    handle = start_sim(tmp_path, run_seconds=1.0)
    yield handle
    handle.stop()


def _leader(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT holder, expires_at FROM leases WHERE name = 'reconciler'")).first()
    finally:
        engine.dispose()
    return str(row[0]) if row is not None and row[1] > time.time() else None


def _pid_of(holder: str) -> int:
    return int(holder.split(":")[1])  # host:pid:nonce


def test_replicas_share_work_never_dispatch_twice_and_take_over(
        tmp_path: Path, pg_database: str, slurm: dict[str, str], sim: SimHandle) -> None:
    began = time.time()
    reconciler = {"leaderLeaseSeconds": LEASE_SECONDS, "intervalSeconds": 0.3}
    replicas = [Broker(broker_config(port=free_port(), store_url=pg_database, kubeconfig=sim.kubeconfig,
                                     reconciler=reconciler), tmp_path, f"replica-{i}") for i in range(3)]
    client = Client([r.address for r in replicas])
    acked: dict[str, str] = {}
    try:
        for replica in replicas:
            replica.start()
        # every replica accepts submissions (the burst spreads them over the three) ...
        burst = Burst(client, 150, rate=100.0, threads=6,
                      make_text=lambda i, track: job_yaml(f"replica-{i}", track))
        burst.run()
        acked.update(burst.acked)
        assert len(acked) == 150 and not burst.errors
        # ... and serves reads of jobs another replica accepted
        some = next(iter(acked.values()))
        for stub_index in range(3):
            from dualtrack.v1 import broker_pb2 as pb
            assert client.stubs[stub_index].GetJob(pb.GetJobRequest(id=some), timeout=5).id == some

        holder = None
        while holder is None:
            holder = _leader(pg_database)
            time.sleep(0.1)
        leader = next(r for r in replicas if r.process is not None and r.process.pid == _pid_of(holder))
        assert sum(1 for r in replicas if r.process is not None and r.process.pid == _pid_of(holder)) == 1

        # kill the leader mid-dispatch, and keep submitting to the survivors
        survivors = [r for r in replicas if r is not leader]
        leader.kill9()
        killed_at = time.monotonic()
        new_holder = None
        while new_holder is None or new_holder == holder:
            assert time.monotonic() - killed_at < 60, "no replica took over within 60 s"
            new_holder = _leader(pg_database)
            time.sleep(0.05)
        takeover = time.monotonic() - killed_at
        print(f"takeover={takeover:.2f}s (leaderLeaseSeconds={LEASE_SECONDS}, intervalSeconds=0.3)")
        assert any(r.process is not None and r.process.pid == _pid_of(new_holder) for r in survivors)

        after = Burst(Client([r.address for r in survivors]), 50, rate=100.0, threads=4,
                      make_text=lambda i, track: job_yaml(f"after-{i}", track))
        after.key = lambda i: f"after-{i}"  # type: ignore[method-assign]
        after.run()
        acked.update(after.acked)
        assert len(acked) == 200

        engine = create_engine(pg_database)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    if not conn.execute(text("SELECT count(*) FROM jobs WHERE NOT terminal")).scalar():
                        break
                time.sleep(1)
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, state, attempt FROM jobs")).all()
                retried = conn.execute(text(
                    "SELECT job_id, message FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE attempt > 1) "
                    "ORDER BY seq")).all()
        finally:
            engine.dispose()
        assert len(rows) == 200 and {r[0] for r in rows} == set(acked.values())
        assert {r[1] for r in rows} == {"SUCCEEDED"}, [r for r in rows if r[1] != "SUCCEEDED"][:5]
        ids = {r[0] for r in rows}
        names = slurm_objects(slurm, began) + sim.created
        ours = {n: c for n, c in names.items() if n.removeprefix("dt-").rpartition("-")[0] in ids}
        why = "\n".join(f"{job_id}: {message}" for job_id, message in retried[:60])
        assert len(ours) == 200, f"{len(ours)} backend objects for 200 jobs; events of the retried ones:\n{why}"
        assert [n for n, c in ours.items() if c > 1] == []  # never dispatched twice
    finally:
        for replica in replicas:
            replica.kill9()
        client.close()
        slurm_cancel_named(slurm, acked.values())
