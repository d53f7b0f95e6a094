"""The Backend contract (tests/contract/backend_contract.py) on the Volcano adapter against the Kubernetes API
simulator (sim/kubeapi on a free port, its own state in tmp_path). Run times are scripted through the
simulator's admin endpoint; what ``submit`` sent is the vcjob read back from the API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dualtrack.adapters.base import Backend
from dualtrack.adapters.volcano import VolcanoBackend
from dualtrack.adapters.volcano.client import JOBS
from dualtrack.broker.domain import BackendRef, Job
from dualtrack.sim.kubeapi.config import default_cluster
from tests.contract.backend_contract import BackendContract

from .conftest import Sim, start_sim


class TestVolcanoOnTheSimulator(BackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[VolcanoBackend]:
        kube, kubeconfig = start_sim(tmp_path, default_cluster())
        self.sim = Sim(kube, kubeconfig)
        try:
            yield self.sim.backend()
        finally:
            kube.stop()

    def prepare(self, backend: Backend, job: Job, seconds: int) -> None:
        self.sim.script(job.object_name, run_seconds=float(seconds))

    def restarted(self, backend: Backend) -> Backend:
        return self.sim.backend()

    def unknown_ref(self, backend: Backend) -> BackendRef:
        return BackendRef(backend.name, "dt-jnotthere00000-1", "default/dt-jnotthere00000-1")

    def sent(self, backend: Backend, ref: BackendRef) -> str:
        assert isinstance(backend, VolcanoBackend)
        namespace, _, name = ref.native_id.partition("/")
        stored = backend._client.get_custom(JOBS, namespace, name)
        return yaml.safe_dump(stored)

    def comparable(self, artefact: str) -> Any:
        """What the adapter wrote: name, labels and spec (the API server adds status, uid and defaults)."""
        doc = yaml.safe_load(artefact)
        meta = doc["metadata"]
        return {"name": meta["name"], "labels": meta.get("labels"), "spec": doc["spec"]}
