"""The Backend contract (tests/contract/backend_contract.py) on the in-memory test double."""

from __future__ import annotations

import pytest

from dualtrack.adapters.base import Backend
from dualtrack.adapters.inmemory import InMemoryBackend, Outcome
from dualtrack.broker.domain import BackendRef, Job
from tests.contract.backend_contract import BackendContract


class TestInMemoryBackend(BackendContract):
    @pytest.fixture
    def backend(self) -> InMemoryBackend:
        return InMemoryBackend("mem", run_seconds=0.2)

    def prepare(self, backend: Backend, job: Job, seconds: int) -> None:
        assert isinstance(backend, InMemoryBackend)
        backend.script(job.id, Outcome(run_seconds=seconds))

    def restarted(self, backend: Backend) -> Backend:
        return backend  # the double's state is the cluster's: a new broker sees the same object

    def unknown_ref(self, backend: Backend) -> BackendRef:
        return BackendRef(backend.name, "dt-jnotthere00000-1", "999999")

    def sent(self, backend: Backend, ref: BackendRef) -> str:
        assert isinstance(backend, InMemoryBackend)
        return backend.received(ref)
