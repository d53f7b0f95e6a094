"""Read-only views: explain a placement (dry run), render a backend artefact, list backends."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dualtrack.adapters.registry import BackendRegistry
from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import ClusterSnapshot, Job, JobSpec, Placement, new_job_id
from dualtrack.broker.domain.job import ID_ALPHABET
from dualtrack.broker.domain.limits import quote
from dualtrack.broker.errors import InvalidRequest
from dualtrack.broker.handlers.jobs import dry_run_decision
from dualtrack.broker.handlers.specs import SpecSource, load_spec
from dualtrack.broker.snapshots import BackendHealth
from dualtrack.policies import Decision


def explain_placement(ctx: BrokerContext, source: SpecSource, *, track: str = "",
                      tenant: str | None = None) -> Decision:
    """Every backend's filter verdicts and scores for the spec, against the latest snapshots. Stores nothing.
    Raises SpecError."""
    spec, _ = load_spec(source, track, tenant)
    return dry_run_decision(ctx, Job(id=new_job_id(), spec=spec))


@dataclass(frozen=True)
class Rendered:
    backend: str
    kind: str
    artefact: str


def render_job(ctx: BrokerContext, source: SpecSource, *, track: str = "", backend: str = "",
               tenant: str | None = None) -> Rendered:
    """The artefact a backend would receive (vcjob YAML / sbatch script). Raises SpecError, InvalidRequest."""
    return render_with(ctx.backends, source, track=track, backend=backend, tenant=tenant)


def render_with(backends: BackendRegistry, source: SpecSource, *, track: str = "", backend: str = "",
                tenant: str | None = None) -> Rendered:
    """``render_job`` against any set of backends: the broker's, or those built from a config file by
    ``dualtrack render --config`` without a running broker. Raises SpecError, InvalidRequest."""
    spec, _ = load_spec(source, "", tenant)
    if backend:
        if backend not in backends:
            raise InvalidRequest("backend", f"no backend named {quote(backend)}; configured: "
                                 f"{', '.join(backends.names()) or 'none'}")
        chosen = backends.get(backend)
    else:
        wanted = track or spec.spec.placement.track.value
        candidates = [b for b in backends if wanted in ("auto", b.track)]
        if not candidates:
            raise InvalidRequest("track", f"no backend of track {quote(wanted)} is configured")
        chosen = candidates[0]
    job = Job(id=preview_job_id(spec), spec=spec, image_ref=None)
    return Rendered(chosen.name, chosen.kind, chosen.render(job, Placement(chosen.name)))


def preview_job_id(spec: JobSpec) -> str:
    """A job id for a rendered preview, derived from the spec: the same spec renders the same bytes every
    time (diffable, and ``dualtrack render`` equals the RenderJob artefact); shaped like ``new_job_id``."""
    digest = int.from_bytes(hashlib.sha256(spec.to_yaml().encode()).digest()[:8], "big")
    return "j" + "".join(ID_ALPHABET[(digest >> (5 * i)) & 31] for i in range(12))


@dataclass(frozen=True)
class BackendStatus:
    name: str
    kind: str
    track: str
    health: BackendHealth
    snapshot: ClusterSnapshot | None
    unsupported: dict[str, str]


def list_backends(ctx: BrokerContext) -> list[BackendStatus]:
    snapshots = ctx.snapshots.latest()
    health = ctx.snapshots.health()
    return [
        BackendStatus(b.name, b.kind, b.track, health.get(b.name, BackendHealth()), snapshots.get(b.name),
                      {str(k): v for k, v in b.unsupported.items()})
        for b in ctx.backends
    ]
