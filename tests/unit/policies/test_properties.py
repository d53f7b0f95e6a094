"""Property tests (hypothesis): placements always fit, batches never over-commit, explicit tracks hold, and
the incrementally updated indexes always equal indexes built from scratch."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dualtrack.broker.domain import ClusterSnapshot, FilterStatus, NodeCapacity, PoolCapacity
from dualtrack.policies import PlacementEngine, PolicyConfig
from dualtrack.policies.capacity import SnapshotIndex
from dualtrack.policies.capacity.index import GangView
from dualtrack.policies.session import Session
from tests.unit.policies.builders import GiB, context, make_job, node, snapshot

SETTINGS = settings(max_examples=120, deadline=None)
LEAVES = {"l0": "s0", "l1": "s0", "l2": "s1", "s0": None, "s1": None}


@st.composite
def nodes(draw: Any, prefix: str) -> list[NodeCapacity]:
    count = draw(st.integers(1, 10))
    out = []
    for i in range(count):
        total = draw(st.sampled_from([0, 1, 2, 4, 8]))
        out.append(
            node(
                f"{prefix}{i}",
                total,
                draw(st.integers(0, total)),
                gpu_type=draw(st.sampled_from(["a100", "h100", None])) if total else None,
                switch=draw(st.sampled_from([None, "l0", "l1", "l2"])),
                domain=draw(st.sampled_from([None, None, "nvl0", "nvl1"])),
                cpus=draw(st.sampled_from([0, 16, 64])),
                memory=64 * GiB,
                schedulable=draw(st.booleans()) or draw(st.booleans()),
                pools=draw(st.sampled_from([(), ("p",), ("a",), ("p", "a")])),
            )
        )
    return out


@st.composite
def snapshots(draw: Any) -> list[ClusterSnapshot]:
    out = [snapshot("slurm", "slurm", draw(nodes("s")), switches=LEAVES)]
    pools = []
    if draw(st.booleans()):
        cap = draw(st.sampled_from([None, 4, 8, 16]))
        # a shared partition, and tenant a's own queue (tenants b and c get the backend as a whole)
        pools = [PoolCapacity("p", "partition", gpu_limit=cap), PoolCapacity("a", "queue", gpu_limit=cap)]
    out.append(snapshot("kube", "volcano", draw(nodes("k")), switches=LEAVES, pools=pools))
    return out


@st.composite
def jobs(draw: Any, job_id: str) -> Any:
    return make_job(
        job_id,
        tenant=draw(st.sampled_from(["a", "b", "c"])),
        workers=draw(st.integers(1, 4)),
        gpus=draw(st.sampled_from([1, 2, 4, 8])),
        gpu_type=draw(st.sampled_from([None, "a100", "h100"])),
        tier=draw(st.sampled_from(["node", "switch", "any"])),
        mode=draw(st.sampled_from(["soft", "hard"])),
        track=draw(st.sampled_from(["auto", "auto", "slurm", "kubernetes"])),
        cpus=draw(st.sampled_from([1, 8, 32])),
        memory=draw(st.sampled_from(["1Gi", "32Gi"])),
        priority=draw(st.sampled_from([10, 100])),
        created_at=float(draw(st.integers(0, 100))),
    )


@st.composite
def batches(draw: Any) -> list[Any]:
    return [draw(jobs(f"j{i}")) for i in range(draw(st.integers(1, 8)))]


def recording_placements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...]]]:
    """(job id, node index per worker) of every gang the engine places, in decision order."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    original = PlacementEngine._decide

    def spy(self: PlacementEngine, job: Any, session: Session) -> Any:
        decision, winner = original(self, job, session)
        if winner is not None:
            seen.append((job.id, winner.fit().nodes))
        return decision, winner

    monkeypatch.setattr(PlacementEngine, "_decide", spy)
    return seen


@SETTINGS
@given(snaps=snapshots(), batch=batches())
def test_a_batch_never_over_commits_and_every_gang_fits(snaps: list[ClusterSnapshot], batch: list[Any]) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        seen = recording_placements(monkeypatch)
        engine = PlacementEngine(PolicyConfig.from_mapping({}))
        ctx = context(*snaps)
        decisions = engine.place_batch(batch, ctx)
    by_id = {job.id: job for job in batch}
    placed = [d for d in decisions if d.status is FilterStatus.OK]
    assert len(placed) == len(seen)
    used_gpus: Counter[tuple[str, int]] = Counter()
    used_cpus: Counter[tuple[str, int]] = Counter()
    pool_gpus: Counter[tuple[str, str]] = Counter()
    for decision, (job_id, workers) in zip(placed, seen, strict=True):
        job = by_id[decision.job_id]
        res = job.spec.spec.resources
        assert decision.placement is not None and job_id == job.id
        assert len(workers) == res.workers
        snap = ctx.snapshots[decision.placement.backend]
        types = set()
        for i in workers:
            n = snap.nodes[i]
            assert n.schedulable and n.gpus_total > 0
            assert decision.placement.pool is None or not n.pools or decision.placement.pool in n.pools
            if res.gpu_type:
                assert n.gpu_type == res.gpu_type
            types.add(n.gpu_type)
            used_gpus[(snap.backend, i)] += res.gpus_per_worker
            used_cpus[(snap.backend, i)] += res.cpus_per_worker
        assert len(types) == 1  # one gang, one GPU model
        if decision.placement.pool is not None:
            pool_gpus[(snap.backend, decision.placement.pool)] += res.total_gpus
        if job.spec.spec.topology.mode.value == "hard" and job.spec.spec.topology.tier.value == "node":
            assert len({snap.nodes[i].domain for i in workers}) == 1
        if job.spec.spec.topology.mode.value == "hard" and job.spec.spec.topology.tier.value == "switch":
            assert decision.placement.tier in ("node", "switch")
    for (backend, i), gpus in used_gpus.items():
        n = ctx.snapshots[backend].nodes[i]
        assert gpus <= n.gpus_free, f"{backend}/{n.name}: {gpus} GPUs promised, {n.gpus_free} free"
        if n.cpus_total:
            assert used_cpus[(backend, i)] <= n.cpus_free
    for (backend, pool_name), gpus in pool_gpus.items():
        pool = ctx.snapshots[backend].pool(pool_name)
        assert pool is not None
        if pool.gpu_limit is not None:
            assert pool.gpus_allocated + gpus <= pool.gpu_limit


@SETTINGS
@given(snaps=snapshots(), batch=batches())
def test_an_explicit_track_is_always_honoured(snaps: list[ClusterSnapshot], batch: list[Any]) -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({}))
    ctx = context(*snaps)
    by_id = {job.id: job for job in batch}
    for decision in engine.place_batch(batch, ctx):
        track = by_id[decision.job_id].spec.spec.placement.track.value
        if decision.placement is not None and track != "auto":
            assert ctx.backends[decision.placement.backend].track == track


@SETTINGS
@given(snaps=snapshots(), batch=batches())
def test_place_is_a_batch_of_one_and_leaves_no_trace(snaps: list[ClusterSnapshot], batch: list[Any]) -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({}))
    ctx = context(*snaps)
    first = [engine.place(job, ctx) for job in batch]
    engine.place_batch(batch, ctx)
    again = [engine.place(job, ctx) for job in batch]
    for x, y in zip(first, again, strict=True):
        assert x == y, (x.explanation.to_dict(), y.explanation.to_dict())
    for snap in snaps:
        index = engine.index(snap)
        assert index.free == SnapshotIndex(snap).free


def view_state(view: GangView) -> tuple[Any, ...]:
    """Slots per group, and every bucket's groups in iteration order (the order decides ties)."""
    return (view.slots, {t: {k: list(v) for k, v in b.items()} for t, b in enumerate(view.buckets)}, view.cluster)


@SETTINGS
@given(nodes_=nodes("n"), data=st.data())
def test_incremental_index_equals_a_fresh_build(nodes_: list[NodeCapacity], data: Any) -> None:
    snap = snapshot("b", "slurm", nodes_, switches=LEAVES)
    live = SnapshotIndex(snap)
    scopes = [live.scope(None), live.scope("p")]
    for scope in scopes:
        for types in scope.types.values():
            for g in (1, 2, 4, 8):
                types.view(g)
    taken: list[tuple[int, int]] = []
    for _ in range(data.draw(st.integers(1, 12))):
        i = data.draw(st.integers(0, len(nodes_) - 1))
        if taken and data.draw(st.booleans()):
            j, g = taken.pop(data.draw(st.integers(0, len(taken) - 1)))
            live.give(j, g, 0, 0)
        elif live.free[i] > 0:
            g = data.draw(st.integers(1, live.free[i]))
            live.take(i, g, 0, 0)
            taken.append((i, g))
    live.canonicalize()
    # a fresh index over a snapshot whose free GPUs are the live ones
    rebuilt_nodes = [
        NodeCapacity(**{**n.__dict__, "gpus_free": live.free[k] if n.schedulable else n.gpus_free})
        for k, n in enumerate(nodes_)
    ]
    fresh = SnapshotIndex(snapshot("b", "slurm", rebuilt_nodes, switches=LEAVES))
    for scope in scopes:
        fresh_scope = fresh.scope(scope.pool)
        for key, types in scope.types.items():
            fresh_types = fresh_scope.types[key]
            assert {k: list(v) for k, v in types.free_buckets.items()} == {
                k: list(v) for k, v in fresh_types.free_buckets.items()
            }
            for g, view in types.views.items():
                assert view_state(view) == view_state(fresh_types.view(g))
