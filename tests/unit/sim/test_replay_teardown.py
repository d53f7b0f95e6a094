"""At the end of a run the replay drops its state, so the jobs are freed by reference counting rather than left,
in the router's reference cycles, to the cyclic garbage collector (sim/replay/live.py, ``LiveRouter.close``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from dualtrack.sim.replay import runner
from dualtrack.sim.replay.live import LiveRouter
from tests.unit.sim.helpers import trace_job, two_backends


@pytest.fixture
def no_cyclic_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_a_live_run_closes_its_router(monkeypatch: pytest.MonkeyPatch,
                                      no_cyclic_collector: None) -> None:
    routers: list[LiveRouter] = []
    make = runner.make_router

    def recording(*args: object, **kwargs: object) -> object:
        router = make(*args, **kwargs)  # type: ignore[arg-type]
        assert isinstance(router, LiveRouter)
        routers.append(router)
        return router

    monkeypatch.setattr(runner, "make_router", recording)
    jobs = [trace_job(f"j{i}", 10.0 * i, 60.0, tenant="ab"[i % 2]) for i in range(6)]
    run = runner.run_policy("live", jobs, two_backends())
    assert {r.state for r in run.records} == {"COMPLETED"}
    router = routers.pop()
    assert router.jobs() == []  # closed: the store holds no job any more


def test_closing_the_memory_store_frees_its_jobs(no_cyclic_collector: None) -> None:
    from dualtrack.broker.store import NewJob
    from dualtrack.sim.replay.live import spec_of
    from dualtrack.sim.replay.memstore import MemoryJobStore

    store = MemoryJobStore()
    created = store.create(NewJob(spec_of(trace_job("j0", 0.0, 60.0)), ""))
    job = weakref.ref(created.job)
    del created
    assert job() is not None
    store.close()
    assert job() is None
    assert store.all_jobs() == []
