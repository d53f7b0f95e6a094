"""The one small Protocol every backend adapter implements (design section 3), plus optional capabilities.

Callers: the broker's handlers (snapshot for placement, render) and reconciler (submit, observe, cancel,
managed). Adapters import only ``broker.domain``; they never import the broker's gRPC, store or handlers.

Contract of every method:
- ``snapshot()`` returns a ClusterSnapshot; it raises ``BackendUnavailable`` when the backend cannot be
  reached (the broker then marks it down).
- ``submit(job, placement)`` is idempotent per ``(job.id, job.attempt)``: when an object named
  ``dt-<id>-<attempt>`` already exists it returns its reference instead of submitting again. Raises
  ``SubmitRejected`` when the backend refuses the job for good (bad request, impossible request) and
  ``BackendUnavailable`` for transient trouble.
- ``observe(refs)`` maps every given ref to an Observed; refs the backend does not know are ``MISSING``.
- ``cancel(ref)`` is idempotent: cancelling a finished or unknown job is not an error.
- ``managed()`` lists every backend object that carries a broker job id (crash recovery, zombie clean-up).
- ``render(job, placement)`` returns the artefact ``submit`` would send (vcjob YAML / sbatch script).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from dualtrack.broker.domain import BackendRef, ClusterSnapshot, Feature, Job, ManagedJob, Observed, Placement


class BackendError(Exception):
    """Base of the errors adapters raise."""


class BackendUnavailable(BackendError):
    """The backend could not be reached or answered with a transient error; try again later."""


class SubmitRejected(BackendError):
    """The backend refused the job for a reason that will not change by retrying."""


@runtime_checkable
class Backend(Protocol):
    name: str
    kind: str  # "volcano" | "slurm" | "inmemory"
    track: str  # "kubernetes" | "slurm"
    unsupported: Mapping[Feature, str]  # feature -> why; shown to users

    def snapshot(self) -> ClusterSnapshot: ...

    def submit(self, job: Job, placement: Placement) -> BackendRef: ...

    def observe(self, refs: Sequence[BackendRef]) -> Mapping[BackendRef, Observed]: ...

    def cancel(self, ref: BackendRef) -> None: ...

    def managed(self) -> Sequence[ManagedJob]: ...

    def render(self, job: Job, placement: Placement) -> str: ...


@runtime_checkable
class StartEstimator(Protocol):
    """Optional capability: the backend's own estimate of when a job would start (epoch seconds)."""

    def estimate_start(self, job: Job, placement: Placement) -> float | None: ...


@runtime_checkable
class ImageConsumer(Protocol):
    """Optional capability: ``needs_sif`` is True when the backend runs jobs from a SIF that the broker's
    image service converts from the job's Docker/OCI image (so placement counts the conversion time and
    dispatch waits for the SIF)."""

    @property
    def needs_sif(self) -> bool: ...


@runtime_checkable
class CheckpointHolder(Protocol):
    """Optional capability: the host folder that the backend mounts at /checkpoints in YOLO jobs, as the broker
    sees it (shared storage), or None when not configured. YOLO run directories and the checkpoints a new
    attempt resumes from live below it (docs/yolo.md#checkpoints)."""

    @property
    def checkpoint_root(self) -> str | None: ...


@runtime_checkable
class DatasetMounter(Protocol):
    """Optional capability: the dataset names the backend mounts read-only at /datasets/<name>, or None
    when any name can be mounted (docs/yolo.md#datasets). Placement refuses the backend for others."""

    @property
    def mountable_datasets(self) -> frozenset[str] | None: ...


@runtime_checkable
class Closable(Protocol):
    """Optional capability: the backend holds connections or processes to release at shutdown."""

    def close(self) -> None: ...
