"""The unit the framework filters and scores: a backend, or one of its pools (Slurm partition, Volcano queue).

``candidates_for(job, session)`` lists them for one job: one per backend; where a healthy snapshot lists pools
the job may use, one per such pool instead (see ``candidate_pools``: the tenant's configured pool, every
shared partition, only the tenant's own queue). A Candidate
memoizes what several plugins read (the gang fit, the expected start) for the one job being evaluated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dualtrack.broker.domain import ClusterSnapshot, Job, PoolCapacity
from dualtrack.policies.capacity import GangFit, GangRequest, SnapshotIndex
from dualtrack.policies.capacity.fit import fit_gang_memo
from dualtrack.policies.context import BackendInfo
from dualtrack.policies.estimates import StartEstimate, expected_start

if TYPE_CHECKING:
    from dualtrack.policies.session import Session

_TRACK_OF_KIND = {"slurm": "slurm", "volcano": "kubernetes", "kubernetes": "kubernetes"}


class Candidate:
    """One backend or pool, as seen by the plugins while one job is evaluated."""

    def __init__(
        self,
        job: Job,
        session: Session,
        info: BackendInfo,
        snapshot: ClusterSnapshot,
        pool_name: str | None,
        index: SnapshotIndex | None,
        request: GangRequest | None = None,
    ):
        self.job = job
        self.session = session
        self.info = info
        self.snapshot = snapshot
        self.pool_name = pool_name
        self.index = index  # None when the backend is down
        self.pool: PoolCapacity | None = snapshot.pool(pool_name) if pool_name else None
        self._request = request  # the job's gang request, shared by its candidates (built once per job)
        self._fit: GangFit | None = None
        self._start: StartEstimate | None = None

    @property
    def backend(self) -> str:
        return self.info.name

    @property
    def track(self) -> str:
        return self.info.track

    @property
    def key(self) -> str:
        return self.backend if self.pool_name is None else f"{self.backend}/{self.pool_name}"

    def fit(self) -> GangFit:
        """Where the job's gang fits in this candidate's scope now (computed once per evaluation)."""
        if self._fit is None:
            assert self.index is not None, "fit() of a down backend: the health gate must stop it first"
            scope = self.index.scope(self.pool_name)
            self._fit = fit_gang_memo(self.index, scope, self.request)
        return self._fit

    @property
    def request(self) -> GangRequest:
        """What the job asks of a scope (``GangRequest.of(job)``)."""
        if self._request is None:
            self._request = GangRequest.of(self.job)
        return self._request

    def start(self) -> StartEstimate:
        """The job's expected start here (backlog, backend estimate, staging, image)."""
        if self._start is None:
            self._start = expected_start(self.job, self)
        return self._start

    @property
    def tier_rank(self) -> int:
        """Tightness of the fit for tie-breaks (lower is tighter; 9 when not fitted)."""
        fit = self._fit
        return int(fit.tier) if fit is not None and fit.tier is not None else 9


def backend_info(name: str, info: BackendInfo | None, snapshot: ClusterSnapshot | None) -> BackendInfo:
    """The given info, or one inferred from the snapshot's kind for a backend the context did not describe."""
    if info is not None:
        return info
    kind = snapshot.kind if snapshot is not None else "unknown"
    return BackendInfo(name=name, track=_TRACK_OF_KIND.get(kind, kind), kind=kind)


def candidates_for(job: Job, session: Session) -> list[Candidate]:
    """Every candidate for ``job`` in this cycle, in backend then pool name order."""
    request = GangRequest.of(job)
    tenant = job.tenant
    out: list[Candidate] = []
    for name, info, snapshot in _backends(session):
        if not snapshot.healthy:
            out.append(Candidate(job, session, info, snapshot, None, None, request))
            continue
        index = session.index(name)
        pools = session.candidate_pools.get((tenant, name))
        if pools is None:
            pools = candidate_pools(tenant, snapshot, session.config.tenant(tenant).pools.get(name))
            session.candidate_pools[(tenant, name)] = pools
        if not pools:
            out.append(Candidate(job, session, info, snapshot, None, index, request))
        for pool in pools:
            out.append(Candidate(job, session, info, snapshot, pool, index, request))
    return out


def _backends(session: Session) -> list[tuple[str, BackendInfo, ClusterSnapshot]]:
    """(name, info, snapshot) of every backend the context knows, by name; a backend without a snapshot this
    cycle gets a down one. The same for every job of a session: built once per session."""
    if session.candidate_backends is None:
        ctx = session.ctx
        found = []
        for name in sorted(set(ctx.backends) | set(ctx.snapshots)):
            snapshot = ctx.snapshots.get(name)
            info = backend_info(name, ctx.backends.get(name), snapshot)
            if snapshot is None:
                snapshot = ClusterSnapshot.down(name, info.kind, ctx.now, "no snapshot this cycle")
            found.append((name, info, snapshot))
        session.candidate_backends = found
    return session.candidate_backends


def candidate_pools(tenant: str, snapshot: ClusterSnapshot, configured: str | None) -> list[str]:
    """The pools of ``snapshot`` a job of ``tenant`` may be placed in; [] = the backend as a whole.

    The tenant's configured pool wins. Partitions are shared: every one is a candidate. Queues belong to
    tenants, so a job never lands in another tenant's queue: the queue named like the tenant if there is
    one, else none (the adapter then applies its own tenant -> queue map, and no queue cap is checked here).
    """
    if configured is not None:
        return [configured]
    shared = sorted(p.name for p in snapshot.pools if p.kind != "queue")
    own_queue = [p.name for p in snapshot.pools if p.kind == "queue" and p.name == tenant]
    return shared + own_queue
