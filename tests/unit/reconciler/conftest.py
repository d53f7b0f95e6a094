"""A broker context on a SQLite file with two scriptable in-memory backends, and a helper that runs
reconciler cycles until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dualtrack.adapters.inmemory import InMemoryBackend
from dualtrack.broker.config import parse_config
from dualtrack.broker.context import BrokerContext, build_context
from dualtrack.broker.domain import Job
from dualtrack.broker.handlers.jobs import submit_job
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.broker.reconciler import Reconciler

REPO = Path(__file__).resolve().parents[3]


class Harness:
    def __init__(self, ctx: BrokerContext):
        self.ctx = ctx
        self.reconciler = Reconciler(ctx, zombie_interval=0.0)

    def backend(self, name: str) -> InMemoryBackend:
        backend = self.ctx.backends.get(name)
        assert isinstance(backend, InMemoryBackend)
        return backend

    def submit(self, example: str = "yolo-1gpu", **replace: str) -> Job:
        text = (REPO / "examples" / f"{example}.yaml").read_text()
        for old, new in replace.items():
            assert old in text, old
            text = text.replace(old, new)
        return submit_job(self.ctx, SpecSource(yaml_text=text)).result().job

    def cycle(self) -> None:
        report = self.reconciler.run_cycle()
        assert report.leader

    def until(self, job_id: str, condition: Callable[[Job], bool], timeout: float = 20.0) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            self.cycle()
            job = self.ctx.store.get(job_id)
            if condition(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stuck in {job.state}: {job.reason}")
            time.sleep(0.05)


def make_config(tmp_path: Path, db: str = "jobs.sqlite", **reconciler: Any) -> dict[str, Any]:
    return {
        "store": {"url": f"sqlite:///{tmp_path / db}"},
        "metrics": {"port": None},
        "reconciler": {"retryBackoffSeconds": 0, "missingGraceSeconds": 0, "backendDownAfter": 2, **reconciler},
        "backends": [
            {"name": "slurm-a", "kind": "inmemory", "settings": {"track": "slurm", "runSeconds": 0.3}},
            {"name": "kube-a", "kind": "inmemory",
             "settings": {"track": "kubernetes", "nodes": 4, "gpusPerNode": 2, "runSeconds": 0.3}},
        ],
    }


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    ctx = build_context(parse_config(make_config(tmp_path)))
    yield Harness(ctx)
    ctx.close()


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[BrokerContext] = []

    def make(**reconciler: Any) -> Harness:
        ctx = build_context(parse_config(make_config(tmp_path, f"jobs-{len(made)}.sqlite", **reconciler)))
        made.append(ctx)
        return Harness(ctx)

    yield make
    for ctx in made:
        ctx.close()
