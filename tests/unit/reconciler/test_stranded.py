"""``reconciler.downRerouteAfter``: a running job on a backend that has been down that long is rerouted to
another backend as attempt n+1 with the reason; without the key it waits for its backend."""

from __future__ import annotations

from collections.abc import Callable

from dualtrack.adapters.inmemory import Outcome
from dualtrack.broker.domain import JobState
from tests.unit.reconciler.conftest import Harness

OTHER = {"slurm-a": "kube-a", "kube-a": "slurm-a"}


def _running(harness: Harness) -> tuple[str, str]:
    """A job (track auto) running on whichever backend placement chose: (job id, that backend)."""
    job = harness.submit("yolo-1gpu")
    harness.backend("slurm-a").script(job.id, Outcome(run_seconds=60))
    harness.backend("kube-a").script(job.id, Outcome(run_seconds=60))
    running = harness.until(job.id, lambda j: j.state is JobState.RUNNING)
    assert running.backend is not None
    return job.id, running.backend


def test_a_running_job_on_a_dead_backend_moves(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(downRerouteAfter="1s")
    job_id, source = _running(harness)
    harness.backend(source).set_available(False)
    moved = harness.until(job_id, lambda j: j.backend == OTHER[source] and j.state is JobState.RUNNING)
    assert moved.attempt == 2 and source in moved.excluded_backends
    events = [e.message for e in harness.ctx.store.events(job_id=job_id)]
    assert any(f"{source} has been down for more than 1 s" in m for m in events), events


def test_without_the_key_the_job_waits_for_its_backend(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness()
    job_id, source = _running(harness)
    harness.backend(source).set_available(False)
    for _ in range(8):
        harness.cycle()
    job = harness.ctx.store.get(job_id)
    assert job.backend == source and job.attempt == 1
