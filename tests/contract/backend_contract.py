"""The Backend contract (adapters/base.py): one abstract suite, subclassed once per implementation and transport
(tests/integration/slurm/test_backend_contract.py: CLI, SSH, REST on the local cluster;
tests/integration/volcano/test_backend_contract.py: Volcano on the Kubernetes API simulator;
tests/unit/adapters/inmemory/test_backend_contract.py: the in-memory test double).

A subclass provides the ``backend`` fixture (an adapter on a running backend; other users' jobs may be there)
and implements the hooks below. Every test makes its own jobs (ids from ``new_job_id`` with the ``jct``
prefix), looks only at them and cancels them at the end.

Checked: the Protocol's members; a healthy snapshot; submit idempotent per (job id, attempt), also through a
new adapter instance (crash recovery), and a new ref for the next attempt; MISSING for refs the backend does
not know; cancel of unknown, running and finished jobs (idempotent; a cancelled job is CANCELLED, or MISSING
on backends where cancelling deletes the object (Volcano); a finished job stays finished);
``managed()`` listing every object that carries a broker job id with its id and attempt; ``render`` equal to
what ``submit`` sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from dualtrack.adapters.base import Backend, Closable
from dualtrack.broker.domain import (
    BackendPhase,
    BackendRef,
    ClusterSnapshot,
    Job,
    Observed,
    Placement,
    new_job_id,
    parse_spec,
)

TERMINAL = {BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED}
CANCELLED = {BackendPhase.CANCELLED, BackendPhase.MISSING}  # MISSING: the backend deletes what is cancelled
WAIT_SECONDS = 90.0


def contract_job(seconds: int, *, attempt: int = 1, job_id: str | None = None) -> Job:
    """One worker, one GPU, running ``sleep <seconds>``; ids start with ``jct`` so clean-up finds them."""
    doc = {
        "apiVersion": "dualtrack/v1",
        "kind": "TrainingJob",
        "metadata": {"name": "contract", "tenant": "contract"},
        "spec": {"image": "busybox:1.36", "command": ["sleep", str(seconds)],
                 "resources": {"workers": 1, "gpusPerWorker": 1, "cpusPerWorker": 1, "memoryPerWorker": "256Mi"},
                 "timeLimit": "10m"},
    }
    return Job(id=job_id or "jct" + new_job_id()[3:], spec=parse_spec(doc), attempt=attempt)


class BackendContract:
    """See the module docstring. Hooks a subclass implements or overrides are marked ``hook``."""

    # ------------------------------------------------------------------------------------------- hooks
    def placement(self, backend: Backend) -> Placement:
        """hook: where contract jobs go (default: the backend as a whole)."""
        return Placement(backend.name)

    def prepare(self, backend: Backend, job: Job, seconds: int) -> None:
        """hook: make ``job`` run about ``seconds`` (backends that do not run commands script it here)."""

    def restarted(self, backend: Backend) -> Backend:
        """hook: a new adapter instance on the same backend (what a restarted broker builds)."""
        raise NotImplementedError

    def unknown_ref(self, backend: Backend) -> BackendRef:
        """hook: a well-formed reference to an object the backend never had."""
        raise NotImplementedError

    def sent(self, backend: Backend, ref: BackendRef) -> str:
        """hook: the artefact the backend holds for ``ref`` (the sbatch script, the vcjob, ...)."""
        raise NotImplementedError

    def comparable(self, artefact: str) -> Any:
        """hook: the part of an artefact ``render`` and ``sent`` must agree on (default: all of it)."""
        return artefact

    # --------------------------------------------------------------------------------------- helpers
    @pytest.fixture
    def jobs(self, backend: Backend) -> Iterator[list[BackendRef]]:
        """Refs this test submitted; whatever is still pending or running is cancelled afterwards."""
        refs: list[BackendRef] = []
        yield refs
        if refs:
            seen = backend.observe(refs)
            for ref in refs:
                if seen[ref].phase in (BackendPhase.PENDING, BackendPhase.RUNNING):
                    backend.cancel(ref)

    def submit(self, backend: Backend, jobs: list[BackendRef], job: Job, seconds: int) -> BackendRef:
        self.prepare(backend, job, seconds)
        ref = backend.submit(job, self.placement(backend))
        jobs.append(ref)
        return ref

    def wait(self, backend: Backend, ref: BackendRef, phases: set[BackendPhase]) -> Observed:
        deadline = time.monotonic() + WAIT_SECONDS
        seen = backend.observe([ref])[ref]
        while seen.phase not in phases:
            if time.monotonic() > deadline:
                pytest.fail(f"{ref} still {seen.phase} ({seen.native_state} {seen.reason}) after {WAIT_SECONDS}s")
            time.sleep(0.2)
            seen = backend.observe([ref])[ref]
        return seen

    # ----------------------------------------------------------------------------------------- tests
    def test_is_a_backend(self, backend: Backend) -> None:
        assert isinstance(backend, Backend)
        assert backend.name and backend.kind and backend.track in ("kubernetes", "slurm")
        assert isinstance(backend.unsupported, Mapping)
        assert all(isinstance(reason, str) and reason for reason in backend.unsupported.values())

    def test_snapshot_of_a_running_backend_is_healthy(self, backend: Backend) -> None:
        snap = backend.snapshot()
        assert isinstance(snap, ClusterSnapshot) and snap.backend == backend.name and snap.healthy
        assert snap.gpus_total > 0 and snap.nodes

    def test_submit_is_idempotent_per_job_and_attempt(self, backend: Backend, jobs: list[BackendRef]) -> None:
        job = contract_job(300)
        first = self.submit(backend, jobs, job, 300)
        assert first.backend == backend.name and first.name == job.object_name and first.native_id
        assert backend.submit(job, self.placement(backend)) == first
        again = self.restarted(backend)
        try:
            assert again.submit(job, self.placement(backend)) == first  # after a broker restart
        finally:
            if again is not backend and isinstance(again, Closable):
                again.close()
        named = [m for m in backend.managed() if m.ref.name == job.object_name]
        assert [m.ref for m in named] == [first]  # one object, not two
        second = self.submit(backend, jobs, contract_job(300, attempt=2, job_id=job.id), 300)
        assert second != first and second.name == f"dt-{job.id}-2"

    def test_unknown_refs_are_missing(self, backend: Backend) -> None:
        unknown = self.unknown_ref(backend)
        assert backend.observe([unknown])[unknown].phase is BackendPhase.MISSING
        assert backend.observe([]) == {}

    def test_cancel_of_an_unknown_job_is_not_an_error(self, backend: Backend) -> None:
        backend.cancel(self.unknown_ref(backend))

    def test_cancel_of_a_running_job_is_idempotent(self, backend: Backend, jobs: list[BackendRef]) -> None:
        ref = self.submit(backend, jobs, contract_job(300), 300)
        self.wait(backend, ref, {BackendPhase.RUNNING})
        backend.cancel(ref)
        assert self.wait(backend, ref, CANCELLED).phase in CANCELLED
        backend.cancel(ref)
        assert backend.observe([ref])[ref].phase in CANCELLED

    def test_cancel_of_a_finished_job_leaves_it_finished(self, backend: Backend, jobs: list[BackendRef]) -> None:
        ref = self.submit(backend, jobs, contract_job(1), 1)
        done = self.wait(backend, ref, TERMINAL)
        assert done.phase is BackendPhase.SUCCEEDED, done
        backend.cancel(ref)
        backend.cancel(ref)
        assert backend.observe([ref])[ref].phase is BackendPhase.SUCCEEDED

    def test_managed_lists_every_object_with_a_broker_job_id(self, backend: Backend, jobs: list[BackendRef]) -> None:
        mine = [contract_job(300), contract_job(300, attempt=3)]
        refs = {self.submit(backend, jobs, job, 300): job for job in mine}
        listed = {m.ref: m for m in backend.managed()}
        for ref, job in refs.items():
            assert ref in listed, f"{ref} not in managed()"
            assert (listed[ref].job_id, listed[ref].attempt) == (job.id, job.attempt)
            assert listed[ref].phase in (BackendPhase.PENDING, BackendPhase.RUNNING)

    def test_render_equals_what_submit_sends(self, backend: Backend, jobs: list[BackendRef]) -> None:
        job = contract_job(300)
        rendered = backend.render(job, self.placement(backend))
        ref = self.submit(backend, jobs, job, 300)
        assert self.comparable(self.sent(backend, ref)) == self.comparable(rendered)
        assert backend.render(job, self.placement(backend)) == rendered  # render has no side effects
