"""Batch placement: one snapshot, assume/undo, priority then DRF order, quotas and pool caps within a cycle."""

from __future__ import annotations

from dualtrack.broker.domain import FilterStatus, PoolCapacity
from dualtrack.policies import PlacementEngine, PolicyConfig
from dualtrack.policies.capacity import GangFit, Tier
from dualtrack.policies.session import Session
from tests.unit.policies.builders import context, make_job, node, rack, snapshot

OK, UNSCHED = FilterStatus.OK, FilterStatus.UNSCHEDULABLE


def test_the_last_free_gpus_are_promised_once(engine: PlacementEngine) -> None:
    # 2 nodes x 8 free; three 8-GPU jobs: two fit, on different nodes; the third waits.
    ctx = context(snapshot("b", "slurm", rack("n", 2)))
    decisions = engine.place_batch([make_job(f"j{i}", created_at=i) for i in range(3)], ctx)
    assert [d.status for d in decisions] == [OK, OK, UNSCHED]
    assert {d.placement.nodes for d in decisions[:2] if d.placement} == {("n-0",), ("n-1",)}


def test_the_batch_leaves_the_cached_index_as_the_snapshot_says(engine: PlacementEngine) -> None:
    snap = snapshot("b", "slurm", rack("n", 2))
    ctx = context(snap)
    engine.place_batch([make_job("a"), make_job("b")], ctx)
    index = engine.index(snap)
    assert index.free == [8, 8]
    assert index.scope(None).types["a100"].view(8).cluster == 2
    assert engine.place(make_job("c"), ctx).status is OK


def test_priority_first(engine: PlacementEngine) -> None:
    ctx = context(snapshot("b", "slurm", rack("n", 1)))
    low, high = make_job("low", priority=10, created_at=0), make_job("high", priority=1000, created_at=5)
    decisions = engine.place_batch([low, high], ctx)
    assert [(d.job_id, d.status) for d in decisions] == [("high", OK), ("low", UNSCHED)]


def test_equal_priority_goes_to_the_lowest_dominant_share_first(engine: PlacementEngine) -> None:
    # 16 GPUs in all; "big" holds 8 (share 0.5), "small" holds 0: small's job goes first, although older.
    ctx = context(snapshot("b", "slurm", rack("n", 2, 8, 4)), gpus={"big": 8})
    jobs = [make_job("b1", tenant="big", gpus=4, created_at=0), make_job("s1", tenant="small", gpus=4, created_at=9)]
    assert [d.job_id for d in engine.place_batch(jobs, ctx)] == ["s1", "b1"]


def test_drf_alternates_as_shares_grow() -> None:
    # equal weights, nobody holds anything: after each placement the other tenant has the lower share.
    engine = PlacementEngine(PolicyConfig.from_mapping({}))
    ctx = context(snapshot("b", "slurm", rack("n", 8)))
    jobs = [make_job(f"a{i}", tenant="a", created_at=i) for i in range(3)]
    jobs += [make_job(f"b{i}", tenant="b", created_at=10 + i) for i in range(3)]
    assert [d.job_id for d in engine.place_batch(jobs, ctx)] == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_a_tenant_weight_scales_its_share() -> None:
    # a holds 8 of 32 GPUs with weight 4 (share 8/32/4 = 0.0625), b holds 4 with weight 1 (4/32 = 0.125): a first.
    engine = PlacementEngine(PolicyConfig.from_mapping({"tenants": {"a": {"weight": 4}}}))
    ctx = context(snapshot("b", "slurm", rack("n", 4)), gpus={"a": 8, "b": 4})
    jobs = [make_job("b1", tenant="b", created_at=0), make_job("a1", tenant="a", created_at=1)]
    assert [d.job_id for d in engine.place_batch(jobs, ctx)] == ["a1", "b1"]


def test_quota_is_consumed_within_the_batch() -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({"tenants": {"t": {"maxGpus": 16, "maxRunningJobs": 5}}}))
    ctx = context(snapshot("b", "slurm", rack("n", 4)))
    decisions = engine.place_batch([make_job(f"j{i}", tenant="t", created_at=i) for i in range(3)], ctx)
    assert [d.status for d in decisions] == [OK, OK, UNSCHED]
    assert "16 GPUs in use + 8 requested > maxGpus 16" in decisions[2].explanation.summary


def test_pool_cap_is_consumed_within_the_batch(engine: PlacementEngine) -> None:
    pool = PoolCapacity("gpu", "partition", gpu_limit=12, gpus_allocated=0)
    ctx = context(snapshot("b", "slurm", rack("n", 4, pools=["gpu"]), pools=[pool]))
    decisions = engine.place_batch([make_job(f"j{i}", created_at=i) for i in range(2)], ctx)
    # 0 + 8 <= 12, then 8 + 8 > 12
    assert [d.status for d in decisions] == [OK, UNSCHED]


def test_undo_returns_exactly_what_assume_took(engine: PlacementEngine) -> None:
    snap = snapshot("b", "slurm", [node("a", 8, 8, switch="l"), node("b", 8, 8, switch="l")], switches={"l": None})
    ctx = context(snap)
    session = Session(ctx, engine.config, lambda name: engine.index(ctx.snapshots[name]))
    job = make_job(workers=2, gpus=4, cpus=16)
    assumption = session.assume(job, "b", None, GangFit(OK, tier=Tier.NODE, nodes=(0, 0), used=8))
    index = session.index("b")
    assert index.free == [0, 8] and index.cpus_free == [32, 64]
    assert session.tenant_gpus("team") == 8 and session.tenant_jobs("team") == 1
    session.undo(assumption)
    assert index.free == [8, 8] and index.cpus_free == [64, 64]
    assert session.tenant_gpus("team") == 0 and session.tenant_jobs("team") == 0


def test_the_index_cache_keeps_the_latest_snapshots_of_each_backend(engine: PlacementEngine) -> None:
    first, second, third = (snapshot("b", "slurm", rack("n", 1, free=free)) for free in (8, 7, 6))
    other = snapshot("k", "volcano", rack("k", 1))
    a, k = engine.index(first), engine.index(other)
    assert engine.index(first) is a  # same object: cached
    engine.index(second)
    engine.index(third)  # first is evicted: two kept per backend
    assert engine.index(first) is not a
    assert engine.index(other) is k  # another backend's entry is untouched


def test_snapshots_with_the_same_nodes_share_one_index(engine: PlacementEngine) -> None:
    first, second = (snapshot("b", "slurm", rack("n", 2)) for _ in range(2))
    assert engine.index(second) is engine.index(first)  # derived: nothing to re-read
