"""PlacementEngine: the one entry point the broker calls.

Steps of ``place_batch`` (``place`` is the batch of one):
1. open a Session over the context's snapshots (per-snapshot indexes come from a small cache keyed by the
   snapshot object, so they are built once per cycle, not once per decision, and derived from the previous
   snapshot's index when only free capacity changed; the session keeps its own references, so eviction never
   disturbs a call in progress);
2. order the jobs: priority, then the tenant with the lowest dominant share (re-evaluated after each placement);
3. for each job: list the candidates (backends / pools), run the filters, score the feasible candidates,
   normalize and weight, pick the winner and record the Explanation;
4. when a job is placed, assume its gang on the session (nodes, pool cap, tenant quota) so the next job sees it;
5. discard every assumption (the cached indexes return to the snapshot's figures) and return the decisions.

Thread safety: calls are serialised by a lock (the cached indexes are mutated during a call).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from dualtrack.broker.domain import ClusterSnapshot, Explanation, FilterStatus, Job, Placement
from dualtrack.policies.candidates import Candidate, candidates_for
from dualtrack.policies.capacity import SnapshotIndex
from dualtrack.policies.capacity.derive import derive_index
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.context import Decision, PlacementContext
from dualtrack.policies.framework import Evaluated, FilterPlugin, ScorePlugin, evaluate
from dualtrack.policies.ordering import drf_order
from dualtrack.policies.profiles import FILTER_PLUGINS, PROFILES, SCORE_PLUGINS
from dualtrack.policies.session import Session


class IndexCache:
    """SnapshotIndex per snapshot object (identity, not equality): the ``per_backend`` most recent snapshots of
    each backend, so memory stays bounded however many cycles pass (a 50k-node index is tens of MB).

    A new snapshot's index is derived from the backend's most recent cached one when the node layout is the
    same (policies/capacity/derive.py: only the nodes whose free figures changed are re-read; when none did,
    the two snapshots share one index), else built. Either way it answers exactly as a fresh build, and an
    index handed out earlier never changes outside a call.
    """

    def __init__(self, per_backend: int = 2):
        self.per_backend = per_backend
        self._entries: dict[str, list[tuple[ClusterSnapshot, SnapshotIndex]]] = {}

    def get(self, snapshot: ClusterSnapshot) -> SnapshotIndex:
        entries = self._entries.setdefault(snapshot.backend, [])
        for cached, index in entries:
            if cached is snapshot:
                return index
        index = (derive_index(entries[-1][1], snapshot) if entries else None) or SnapshotIndex(snapshot)
        entries.append((snapshot, index))
        kept = entries[-self.per_backend:]
        for _, retired in entries[: -self.per_backend]:
            if all(retired is not held for _, held in kept):  # two snapshots may share one index
                retired.release()  # freed by reference counting, not left to the cyclic collector
        del entries[: -self.per_backend]
        return index


class PlacementEngine:
    """Decides where jobs go. Build once from the PolicyConfig; call ``place`` / ``place_batch`` per cycle."""

    def __init__(self, config: PolicyConfig, *, snapshots_kept_per_backend: int = 2):
        profile = PROFILES[config.profile]
        self.config = config
        self.filters: list[FilterPlugin] = [FILTER_PLUGINS[name](config) for name in profile.filters]
        self.scores: list[tuple[ScorePlugin, float]] = [
            (SCORE_PLUGINS[name](config), weight) for name, weight in config.weights.items() if weight > 0
        ]
        self._indexes = IndexCache(snapshots_kept_per_backend)
        self._lock = threading.Lock()

    def index(self, snapshot: ClusterSnapshot) -> SnapshotIndex:
        """The cached index of ``snapshot`` (building it if new). Lets callers pay the build cost up front."""
        with self._lock:
            return self._indexes.get(snapshot)

    def place(self, job: Job, ctx: PlacementContext) -> Decision:
        """Decide one job (nothing assumed afterwards). At submit: UNRESOLVABLE means refuse the job."""
        return self.place_batch([job], ctx)[0]

    def place_batch(self, jobs: Sequence[Job], ctx: PlacementContext) -> list[Decision]:
        """Decide every job against one set of snapshots; decisions come in placement order (priority, DRF).

        No GPU is promised twice: each placed gang is assumed before the next job is decided. Caller: the
        reconciler's placement step. Raises PluginError only for a plugin bug; the indexes are restored anyway.
        """
        with self._lock:
            session = Session(ctx, self.config, lambda backend: self._indexes.get(ctx.snapshots[backend]))
            try:
                decisions = []
                for job in drf_order(jobs, session.dominant_share):
                    decision, winner = self._decide(job, session)
                    decisions.append(decision)
                    if winner is not None and len(decisions) < len(jobs):  # the last job leaves nothing to see
                        session.assume(job, winner.backend, winner.pool_name, winner.fit())
                return decisions
            finally:
                session.discard()

    def _decide(self, job: Job, session: Session) -> tuple[Decision, Candidate | None]:
        now = session.ctx.now
        candidates = candidates_for(job, session)
        evaluated, winner = evaluate(job, candidates, self.filters, self.scores)
        records = tuple(e.record() for e in evaluated)
        if winner is None:
            status = (
                FilterStatus.UNRESOLVABLE
                if evaluated and all(e.status is FilterStatus.UNRESOLVABLE for e in evaluated)
                else FilterStatus.UNSCHEDULABLE
            )
            explanation = Explanation(now, None, None, _refusal(status, evaluated), records)
            return Decision(job.id, status, None, explanation), None
        candidate = winner.candidate
        fit = candidate.fit()
        assert candidate.index is not None  # a winner's backend is up
        names = candidate.index.snapshot.nodes  # the index's node order (mixed-GPU nodes split per type)
        placement = Placement(
            backend=candidate.backend,
            pool=candidate.pool_name,
            tier=str(fit.tier) if fit.tier is not None else None,
            nodes=tuple(names[i].name for i in dict.fromkeys(fit.nodes)),  # distinct, in pick order
        )
        explanation = Explanation(now, candidate.backend, candidate.pool_name, _choice(winner, evaluated), records)
        return Decision(job.id, FilterStatus.OK, placement, explanation), candidate


def _choice(winner: Evaluated, evaluated: list[Evaluated]) -> str:
    candidate = winner.candidate
    fit = candidate.fit()
    start = candidate.start()
    text = (
        f"placed on {candidate.key}: score {winner.total:.1f}, fits in tier {fit.tier} ({fit.gpu_type}), "
        f"expected start in {start.total:.0f} s"
    )
    others = sorted((e for e in evaluated if e is not winner and e.status is FilterStatus.OK), key=lambda e: -e.total)
    if others:
        text += "; runner-up " + ", ".join(f"{e.candidate.key} {e.total:.1f}" for e in others[:3])
    rejected = [e for e in evaluated if e.status is not FilterStatus.OK]
    if rejected:
        text += "; filtered out: " + "; ".join(_reasons(e) for e in rejected)
    return text


def _refusal(status: FilterStatus, evaluated: list[Evaluated]) -> str:
    if not evaluated:
        return "no backends are configured"
    head = "no backend can ever run this job" if status is FilterStatus.UNRESOLVABLE else "no backend fits now"
    return f"{head}: " + "; ".join(_reasons(e) for e in evaluated)


def _reasons(e: Evaluated) -> str:
    failed = [f"{v.plugin}: {v.reason}" for v in e.verdicts if v.status is not FilterStatus.OK]
    return f"{e.candidate.key} ({', '.join(failed)})"
