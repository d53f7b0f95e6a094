"""The placement and observe steps store the moves of many jobs in one transaction (WriteBatch ->
JobStore.write_many), and a write whose job changed meanwhile is skipped without failing the others."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.broker.domain import Job, JobState
from dualtrack.broker.reconciler.batch import WriteBatch
from dualtrack.broker.reconciler.cycle import ACTIVE_STATES, Cycle
from dualtrack.broker.store import Changes, Write
from tests.unit.reconciler.conftest import Harness

ON_SLURM = "timeLimit: 30m\n  placement: {track: slurm}"  # one backend: one batch per step


@pytest.fixture
def store_calls(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Every write_many batch (its target states) and every single transition, as the steps make them."""
    store = harness.ctx.store
    calls: dict[str, list[Any]] = {"batches": [], "transitions": []}
    write_many, transition = store.write_many, store.transition

    def spy_many(writes: list[Write]) -> list[Job | Exception]:
        calls["batches"].append(sorted(str(w.target) for w in writes))
        return write_many(writes)

    def spy_transition(job: Job, target: JobState, *args: Any, **kwargs: Any) -> Job:
        calls["transitions"].append(str(target))
        return transition(job, target, *args, **kwargs)

    monkeypatch.setattr(store, "write_many", spy_many)
    monkeypatch.setattr(store, "transition", spy_transition)
    return calls


def test_placing_many_jobs_is_one_write(harness: Harness, store_calls: dict[str, list[Any]]) -> None:
    for n in range(4):
        harness.submit(**{"yolo-coco8-1gpu": f"batch-{n}", "timeLimit: 30m": ON_SLURM})
    harness.reconciler.steps = [s for s in harness.reconciler.steps if s[0] == "place"]
    harness.cycle()
    assert store_calls["batches"] == [["PLACED"] * 4]
    assert store_calls["transitions"] == []
    assert {j.state for j in harness.ctx.store.active(ACTIVE_STATES)} == {JobState.PLACED}


def test_jobs_starting_together_are_one_write(harness: Harness, store_calls: dict[str, list[Any]]) -> None:
    for n in range(4):
        harness.submit(**{"yolo-coco8-1gpu": f"batch-{n}", "timeLimit: 30m": ON_SLURM})
    steps = harness.reconciler.steps
    harness.reconciler.steps = [s for s in steps if s[0] in ("place", "dispatch")]
    harness.cycle()  # placed and submitted; the in-memory backend starts them at its next look
    store_calls["batches"].clear()
    harness.reconciler.steps = [s for s in steps if s[0] == "observe"]
    harness.cycle()
    assert store_calls["batches"] == [["RUNNING"] * 4]
    assert {j.state for j in harness.ctx.store.active(ACTIVE_STATES)} == {JobState.RUNNING}


def test_a_stale_write_is_skipped_and_the_others_land(harness: Harness) -> None:
    store = harness.ctx.store
    a, b = (harness.submit(**{"yolo-coco8-1gpu": f"stale-{n}"}) for n in range(2))
    cycle = Cycle(harness.ctx, harness.ctx.clock(), {}, store.active(ACTIVE_STATES))
    store.transition(b, JobState.CANCELLED, "cancelled by the user")  # after the cycle read it
    followed: list[str] = []
    batch = WriteBatch(cycle, "test")
    for job in (a, b):
        batch.update(job, "a note", Changes(reason="noted"), then=lambda j: followed.append(j.id))
    batch.flush()
    assert followed == [a.id] and cycle.errors == []
    assert [j.reason for j in cycle.jobs] == ["noted", ""]
    assert store.get(a.id).reason == "noted" and store.get(b.id).state is JobState.CANCELLED
