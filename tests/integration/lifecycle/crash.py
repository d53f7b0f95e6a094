"""The crash-recovery run shared by test_crash_recovery.py and bench/crash_recovery.py.

A burst of ``total`` submissions (alternating Slurm and Kubernetes, short jobs) is sent by client threads
with idempotency keys while the broker is SIGKILLed ``kills`` times and restarted each time. Afterwards the
broker runs undisturbed until every job is terminal (or ``settle_timeout`` passes), is stopped, and the
evidence is counted:

* lost: an acknowledged submission whose job is not in the store (or is another job than acknowledged), or
  a stored job that did not reach SUCCEEDED (every job here is a `true` that cannot fail by itself);
* duplicated: a submission key stored more than once, a stored job no client asked for, or a backend object
  name ``dt-<id>-<attempt>`` that exists more than once or for more than one backend.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.integration.lifecycle.cluster import (
    Broker,
    Burst,
    Client,
    broker_config,
    free_port,
    slurm_cancel_named,
    slurm_objects,
    start_sim,
)

TENANT = "lifecycle"


@dataclass
class CrashReport:
    submitted: int = 0
    acknowledged: int = 0
    client_retries: int = 0
    duplicate_replies: int = 0
    kills: int = 0
    kills_during_burst: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    burst_seconds: float = 0.0
    settle_seconds: float = 0.0
    total_seconds: float = 0.0
    stored: int = 0
    states: Counter[str] = field(default_factory=Counter)
    attempts: Counter[int] = field(default_factory=Counter)
    slurm_objects: int = 0
    kube_objects: int = 0
    lost: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        restarts = sorted(self.restart_seconds)
        median = restarts[len(restarts) // 2] if restarts else 0.0
        return (
            f"lost={len(self.lost)} duplicated={len(self.duplicated)} unfinished={len(self.unfinished)}\n"
            f"submitted={self.submitted} acknowledged={self.acknowledged} stored={self.stored} "
            f"client_retries={self.client_retries} duplicate_replies={self.duplicate_replies}\n"
            f"kills={self.kills} (during the burst: {self.kills_during_burst}) "
            f"restart_median={median:.2f}s restart_max={max(restarts, default=0):.2f}s\n"
            f"backend_objects: slurm={self.slurm_objects} kubernetes={self.kube_objects}; "
            f"states={dict(self.states)} attempts={dict(self.attempts)}\n"
            f"burst={self.burst_seconds:.1f}s settle={self.settle_seconds:.1f}s total={self.total_seconds:.1f}s"
        )


def run_crash(folder: Path, slurm_env: dict[str, str], *, total: int = 1000, kills: int = 10, rate: float = 20.0,
              uptime: tuple[float, float] = (0.8, 2.0), settle_timeout: float = 240.0,
              store_url: str | None = None, seed: int = 7) -> CrashReport:
    report = CrashReport(submitted=total)
    rng = random.Random(seed)
    began = time.time()
    sim = start_sim(folder, run_seconds=0.5)
    url = store_url or f"sqlite:///{folder / 'crash.sqlite'}"
    broker = Broker(broker_config(port=free_port(), store_url=url, kubeconfig=sim.kubeconfig), folder, "crash")
    client = Client([broker.address])
    job_ids: list[str] = []
    try:
        report.restart_seconds.append(broker.start())
        burst = Burst(client, total, rate=rate)
        sender = threading.Thread(target=burst.run, daemon=True)
        burst_began = time.monotonic()
        sender.start()
        while report.kills < kills or sender.is_alive():
            time.sleep(rng.uniform(*uptime))
            if report.kills >= kills and sender.is_alive():
                continue  # enough kills: let the burst finish on a live broker
            if report.kills >= kills:
                break
            broker.kill9()
            report.kills += 1
            report.kills_during_burst += int(sender.is_alive())
            report.restart_seconds.append(broker.start())
            if not sender.is_alive() and report.burst_seconds == 0.0:
                report.burst_seconds = time.monotonic() - burst_began
        sender.join()
        report.burst_seconds = report.burst_seconds or time.monotonic() - burst_began
        report.acknowledged = len(burst.acked)
        report.client_retries = burst.retried
        report.duplicate_replies = burst.duplicates_answered
        report.errors.extend(burst.errors)

        settle_began = time.monotonic()
        engine = create_engine(url)
        try:
            while time.monotonic() - settle_began < settle_timeout:
                with engine.connect() as conn:
                    open_jobs = conn.execute(text("SELECT count(*) FROM jobs WHERE NOT terminal")).scalar()
                if not open_jobs:
                    break
                time.sleep(1.0)
            report.settle_seconds = time.monotonic() - settle_began
            broker.stop()
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, idempotency_key, state, attempt FROM jobs")).all()
        finally:
            engine.dispose()
        job_ids = [r[0] for r in rows]
        _count(report, burst.acked, rows, slurm_objects(slurm_env, began), sim.created)
    finally:
        broker.kill9()
        client.close()
        sim.stop()
        slurm_cancel_named(slurm_env, job_ids)
    report.total_seconds = time.time() - began
    return report


def _count(report: CrashReport, acked: dict[str, str], rows: list, slurm: Counter[str],  # type: ignore[type-arg]
           kube: Counter[str]) -> None:
    report.stored = len(rows)
    by_key: dict[str, list[str]] = {}
    for job_id, key, state, attempt in rows:
        by_key.setdefault(str(key).removeprefix(f"{TENANT}/"), []).append(job_id)
        report.states[state] += 1
        report.attempts[int(attempt)] += 1
        if state != "SUCCEEDED":
            report.unfinished.append(f"{job_id} {state}")
    for key, job_id in acked.items():
        stored = by_key.get(key, [])
        if job_id not in stored:
            report.lost.append(f"{key} -> {job_id} not in the store")
    for key, ids in by_key.items():
        if len(ids) > 1:
            report.duplicated.append(f"{key} stored {len(ids)} times")
        if key not in acked:
            report.duplicated.append(f"{key} stored but never acknowledged")  # the client retries until acked
    ids = {r[0] for r in rows}
    ours_slurm = Counter({n: c for n, c in slurm.items() if _job_of(n) in ids})
    ours_kube = Counter({n: c for n, c in kube.items() if _job_of(n) in ids})
    report.slurm_objects, report.kube_objects = sum(ours_slurm.values()), sum(ours_kube.values())
    for name, count in (ours_slurm + ours_kube).items():
        if count > 1:
            where = f"slurm={ours_slurm[name]} kubernetes={ours_kube[name]}"
            report.duplicated.append(f"{name} exists {count} times ({where})")


def _job_of(name: str) -> str:
    """``dt-<id>-<attempt>`` -> id."""
    return name.removeprefix("dt-").rpartition("-")[0]
