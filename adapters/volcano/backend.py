"""The Volcano backend: the ``adapters.base.Backend`` Protocol over the Kubernetes API.

Caller: the broker (built by ``adapters.volcano.from_config`` through the registry). It talks to any API
server the kubeconfig / in-cluster config points at; nothing in it knows about the project's simulator.
Errors: see ``adapters.volcano.client`` (BackendUnavailable for transient trouble, SubmitRejected for
objects the API server refuses).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.volcano.client import HYPERNODES, JOBS, PODGROUPS, QUEUES, AlreadyExists, KubeClient, NotFound
from dualtrack.adapters.volcano.observe import observe_one, phase_of
from dualtrack.adapters.volcano.render import LABEL_ATTEMPT, LABEL_JOB_ID, render_vcjob, to_yaml
from dualtrack.adapters.volcano.settings import VolcanoSettings
from dualtrack.adapters.volcano.snapshot import build_snapshot, gpu_type_of
from dualtrack.broker.domain import (
    BackendPhase,
    BackendRef,
    ClusterSnapshot,
    Feature,
    Job,
    ManagedJob,
    Observed,
    Placement,
)

Obj = dict[str, Any]
VOLCANO_JOB_LABEL = "volcano.sh/job-name"
PRODUCTS_TTL_SECONDS = 300.0
FINISHED = (BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED)


def _split(ref: BackendRef, default_namespace: str) -> tuple[str, str]:
    namespace, _, name = ref.native_id.rpartition("/")
    return namespace or default_namespace, name or ref.name


class VolcanoBackend:
    """One Kubernetes cluster running Volcano (see the module docstring)."""

    kind = "volcano"
    track = "kubernetes"

    def __init__(self, name: str, settings: VolcanoSettings, *, client: KubeClient | None = None,
                 clock: Callable[[], float] = time.time):
        self.name = name
        self.settings = settings
        self.unsupported: Mapping[Feature, str] = {}
        self._client = client or KubeClient(name, settings)
        self._clock = clock
        self._products: dict[str, tuple[str, ...]] = {}  # gpuType -> product label values seen on nodes
        self._products_at = float("-inf")

    # -- Backend Protocol --------------------------------------------------------------------

    @property
    def checkpoint_root(self) -> str | None:
        """Where the broker sees the files of the ``checkpointClaim`` volume (``checkpointRoot``), if set."""
        return self.settings.checkpoint_root

    def render(self, job: Job, placement: Placement) -> str:
        """The vcjob YAML; uses the GPU products learnt from the last snapshot (no API call)."""
        return to_yaml(render_vcjob(job, placement, self.settings, self._products))

    def submit(self, job: Job, placement: Placement) -> BackendRef:
        """Create the vcjob; an existing one of the same job and attempt is returned, not created again."""
        gpu_type = job.spec.spec.resources.gpu_type
        stale = self._clock() - self._products_at > PRODUCTS_TTL_SECONDS
        if gpu_type and gpu_type not in self.settings.gpu_products and (gpu_type not in self._products or stale):
            self._learn_products(self._client.list_nodes())
        manifest = render_vcjob(job, placement, self.settings, self._products)
        namespace, name = self.settings.namespace, manifest["metadata"]["name"]
        ref = BackendRef(self.name, name, f"{namespace}/{name}")
        try:
            self._client.create_custom(JOBS, namespace, manifest)
        except AlreadyExists:
            existing = self._client.get_custom(JOBS, namespace, name)
            labels = (existing or {}).get("metadata", {}).get("labels") or {}
            if existing is not None and labels.get(LABEL_JOB_ID) != job.id:
                raise SubmitRejected(
                    f"{self.name}: vcjob {namespace}/{name} exists and is not job {job.id}'s") from None
        except NotFound as exc:
            raise BackendUnavailable(
                f"{self.name}: cannot create vcjobs in namespace {namespace} (is Volcano installed and the "
                f"namespace present?): {exc}") from None
        return ref

    def observe(self, refs: Sequence[BackendRef]) -> Mapping[BackendRef, Observed]:
        by_namespace: dict[str, list[BackendRef]] = {}
        for ref in refs:
            by_namespace.setdefault(_split(ref, self.settings.namespace)[0], []).append(ref)
        out: dict[BackendRef, Observed] = {}
        for namespace, group in by_namespace.items():
            try:
                listed = self._client.list_custom(JOBS, namespace, LABEL_JOB_ID)
                podgroups = self._client.list_custom(PODGROUPS, namespace)
            except NotFound as exc:
                raise BackendUnavailable(f"{self.name}: Volcano's API is missing: {exc}") from None
            jobs = {j["metadata"]["name"]: j for j in listed}
            pods = self._client.list_pods(namespace, label_selector=LABEL_JOB_ID)
            for ref in group:
                vcjob = jobs.get(_split(ref, namespace)[1])
                out[ref] = observe_one(ref, vcjob, *self._related(vcjob, podgroups, pods))
        return out

    def cancel(self, ref: BackendRef) -> None:
        """Delete the vcjob unless it has finished: a finished one stays, so its outcome can still be
        observed (the Backend contract: cancelling a finished job leaves it finished)."""
        namespace, name = _split(ref, self.settings.namespace)
        vcjob = self._client.get_custom(JOBS, namespace, name)
        if vcjob is None:
            return
        native = (vcjob.get("status", {}).get("state") or {}).get("phase", "")
        if phase_of(native) in FINISHED:
            return
        self._client.delete_custom(JOBS, namespace, name)

    def managed(self) -> Sequence[ManagedJob]:
        try:
            vcjobs = self._client.list_custom(JOBS, self.settings.namespace, LABEL_JOB_ID)
        except NotFound as exc:
            raise BackendUnavailable(f"{self.name}: Volcano's API is missing: {exc}") from None
        out = []
        for vcjob in vcjobs:
            meta = vcjob["metadata"]
            labels = meta.get("labels") or {}
            attempt = labels.get(LABEL_ATTEMPT, "")
            if not attempt.isdigit():
                continue
            ref = BackendRef(self.name, meta["name"], f"{meta.get('namespace', self.settings.namespace)}/"
                                                      f"{meta['name']}")
            native = (vcjob.get("status", {}).get("state") or {}).get("phase", "")
            out.append(ManagedJob(ref, labels[LABEL_JOB_ID], int(attempt), phase_of(native)))
        return out

    def snapshot(self) -> ClusterSnapshot:
        nodes = self._client.list_nodes()
        self._learn_products(nodes)
        pods = self._client.list_pods(field_selector="status.phase!=Succeeded,status.phase!=Failed")
        try:
            queues = self._client.list_custom(QUEUES)
            podgroups = self._client.list_custom(PODGROUPS)
            vcjobs = self._client.list_custom(JOBS)
        except NotFound as exc:
            raise BackendUnavailable(f"{self.name}: Volcano's API is missing: {exc}") from None
        try:
            hypernodes = self._client.list_custom(HYPERNODES)
        except NotFound:
            hypernodes = []  # an older Volcano without network topology
        return build_snapshot(self.name, self._clock(), self.settings, nodes=nodes, pods=pods, queues=queues,
                              podgroups=podgroups, vcjobs=vcjobs, hypernodes=hypernodes)

    def close(self) -> None:
        self._client.close()

    # -- helpers -----------------------------------------------------------------------------
    def _learn_products(self, nodes: Sequence[Obj]) -> None:
        found: dict[str, set[str]] = {}
        for node in nodes:
            product = (node.get("metadata", {}).get("labels") or {}).get(self.settings.gpu_product_label)
            gpu_type = gpu_type_of(product, self.settings)
            if product and gpu_type:
                found.setdefault(gpu_type, set()).add(product)
        self._products = {k: tuple(sorted(v)) for k, v in found.items()}
        self._products_at = self._clock()

    @staticmethod
    def _related(vcjob: Obj | None, podgroups: Sequence[Obj], pods: Sequence[Obj]) -> tuple[Obj | None, list[Obj]]:
        """The PodGroup owned by ``vcjob`` and its pods (by Volcano's job-name label)."""
        if vcjob is None:
            return None, []
        uid = vcjob["metadata"].get("uid")
        name = vcjob["metadata"]["name"]
        podgroup = next((pg for pg in podgroups
                         if any(o.get("uid") == uid for o in pg["metadata"].get("ownerReferences") or ())), None)
        own = [p for p in pods if (p["metadata"].get("labels") or {}).get(VOLCANO_JOB_LABEL) == name]
        return podgroup, own
