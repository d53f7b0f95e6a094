"""A derived index (policies/capacity/derive.py) equals an index built from scratch, for any free-capacity
change; a layout change is refused; the base index is left as it was; the engine's cache derives."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dualtrack.broker.domain import ClusterSnapshot, GpuGroup, NodeCapacity
from dualtrack.policies import PlacementEngine, PolicyConfig
from dualtrack.policies.capacity import SnapshotIndex
from dualtrack.policies.capacity.derive import changed_nodes, derive_index
from tests.unit.policies.builders import node, snapshot
from tests.unit.policies.test_properties import LEAVES, nodes, view_state

SETTINGS = settings(max_examples=150, deadline=None)
WIDTHS = (1, 2, 4, 8)


def state(index: SnapshotIndex, pools: tuple[str | None, ...] = (None, "p", "a")) -> Any:
    """Everything a decision reads from an index, bucket orders included (views of every width built)."""
    out: list[Any] = [index.free, index.cpus_free, index.memory_free, index.gpus_total, index.has_switches,
                      [n.name for n in index.snapshot.nodes]]
    for pool in pools:
        scope = index.scope(pool)
        out.append(scope.members)
        for key, types in scope.types.items():
            out.append((key, {k: list(v) for k, v in types.free_buckets.items()}, types.free_gpus))
            for g in WIDTHS:
                out.append((g, view_state(types.view(g)), types.ever_slots(g)))
    return out


@st.composite
def churned(draw: Any, before: list[NodeCapacity]) -> list[NodeCapacity]:
    """``before`` with the free GPUs, CPUs and memory of some nodes changed (layout kept); unchanged nodes are
    sometimes the same objects, sometimes equal copies (adapters that rebuild every node)."""
    out = []
    for n in before:
        if draw(st.booleans()):
            free = draw(st.integers(-1, n.gpus_total + 1))  # out-of-range figures are clamped alike
            n = replace(n, gpus_free=free, cpus_free=draw(st.integers(0, max(n.cpus_total, 1))),
                        memory_free=draw(st.integers(0, n.memory_total)))
        elif draw(st.booleans()):
            n = replace(n)
        out.append(n)
    return out


def with_views(index: SnapshotIndex) -> SnapshotIndex:
    """Build some scopes and views first, as placements do, so the derivation has to carry them."""
    for pool in (None, "p"):
        for types in index.scope(pool).types.values():
            types.view(1)
            types.view(4)
    return index


@SETTINGS
@given(before=nodes("n"), data=st.data())
def test_a_derived_index_equals_a_fresh_build(before: list[NodeCapacity], data: Any) -> None:
    base = with_views(SnapshotIndex(snapshot("b", "slurm", before, switches=LEAVES)))
    base_state = state(SnapshotIndex(base.snapshot))
    index = base
    for _ in range(data.draw(st.integers(1, 3))):  # a chain of cycles, each derived from the previous one
        after = data.draw(churned(list(index.snapshot.nodes)))
        new = snapshot("b", "slurm", after, switches=LEAVES)
        derived = derive_index(index, new)
        assert derived is not None
        assert state(derived) == state(SnapshotIndex(new))
        index = derived
    assert state(base) == base_state  # the base index is untouched


@SETTINGS
@given(before=nodes("n"), data=st.data())
def test_a_layout_change_is_refused(before: list[NodeCapacity], data: Any) -> None:
    i = data.draw(st.integers(0, len(before) - 1))
    n = before[i]
    changed = data.draw(st.sampled_from([
        replace(n, name=n.name + "x"), replace(n, gpus_total=n.gpus_total + 1), replace(n, switch="l9"),
        replace(n, schedulable=not n.schedulable), replace(n, pools=(*n.pools, "z")),
        replace(n, nvlink_domain="other"), replace(n, cpus_total=n.cpus_total + 1)]))
    base = SnapshotIndex(snapshot("b", "slurm", before, switches=LEAVES))
    assert derive_index(base, snapshot("b", "slurm", [*before[:i], changed, *before[i + 1:]], switches=LEAVES)) is None
    assert derive_index(base, snapshot("b", "slurm", before[:-1], switches=LEAVES)) is None
    assert derive_index(base, snapshot("b", "slurm", before, switches={"l0": None})) is None


def mixed(name: str, free_a: int, free_h: int) -> NodeCapacity:
    return replace(node(name, 8, free_a + free_h, gpu_type=None, switch="l0"),
                   gpu_groups=(GpuGroup("a100", 4, free_a), GpuGroup("h100", 4, free_h)))


def test_mixed_gpu_nodes_are_derived_per_type() -> None:
    before = snapshot("b", "slurm", [mixed("m0", 4, 4), node("n1", 8, 8, switch="l1")], switches=LEAVES)
    after = snapshot("b", "slurm", [mixed("m0", 1, 4), node("n1", 8, 3, switch="l1")], switches=LEAVES)
    base = with_views(SnapshotIndex(before))
    derived = derive_index(base, after)
    assert derived is not None
    assert changed_nodes(base.snapshot, after.split_by_gpu_type()) == [0, 2]
    assert state(derived) == state(SnapshotIndex(after))


def test_the_engine_derives_and_still_hands_out_one_index_per_snapshot() -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({}))
    first = snapshot("b", "slurm", [node("n0", 8, 8, switch="l0"), node("n1", 8, 2, switch="l1")], switches=LEAVES)
    second = ClusterSnapshot(**{**first.__dict__, "nodes": (first.nodes[0], replace(first.nodes[1], gpus_free=6))})
    a = engine.index(first)
    b = engine.index(second)
    assert b is not a and engine.index(first) is a and engine.index(second) is b
    assert a.free == [8, 2] and b.free == [8, 6]
    assert b.places is a.places  # derived: the layout is shared, not rebuilt


def orders(index: SnapshotIndex, pool: str | None, g: int) -> Any:
    """What a gang fit of ``g``-GPU workers in ``pool`` iterates, in iteration order (bucket levels are always
    visited sorted, so only each bucket's own order counts)."""
    out = []
    for key, types in index.scope(pool).types.items():
        view = types.view(g)
        out.append((key, [{level: list(members) for level, members in b.items()}
                          for b in (types.free_buckets, *view.buckets)], view.cluster))
    return out


@SETTINGS
@given(before=nodes("n"), data=st.data())
def test_a_derived_index_answers_like_a_fresh_one_under_assumptions(before: list[NodeCapacity], data: Any) -> None:
    """Scopes and views carried into a derived index are first asked for in the middle of a batch (after some
    assumptions): they must iterate as the ones a fresh index builds at that moment."""
    base = SnapshotIndex(snapshot("b", "slurm", before, switches=LEAVES))
    for pool in (None, "p", "a"):
        for g in WIDTHS:
            orders(base, pool, g)  # every scope and view exists in the base, so all are carried
    new = snapshot("b", "slurm", data.draw(churned(list(base.snapshot.nodes))), switches=LEAVES)
    derived, fresh = derive_index(base, new), SnapshotIndex(new)
    assert derived is not None
    for _ in range(data.draw(st.integers(1, 10))):
        if data.draw(st.booleans()):
            i = data.draw(st.integers(0, len(before) - 1))
            if fresh.free[i] > 0:
                g = data.draw(st.integers(1, fresh.free[i]))
                derived.take(i, g, 0, 0)
                fresh.take(i, g, 0, 0)
        else:
            pool, g = data.draw(st.sampled_from([None, "p", "a"])), data.draw(st.sampled_from(WIDTHS))
            assert orders(derived, pool, g) == orders(fresh, pool, g)


@SETTINGS
@given(before=nodes("n"))
def test_a_released_index_answers_as_a_fresh_build(before: list[NodeCapacity]) -> None:
    """``release`` drops the scopes and views (so the index is not a reference cycle); asked again, it rebuilds
    them and answers exactly as before, and a view built before the release is no longer reachable from it."""
    index = with_views(SnapshotIndex(snapshot("b", "slurm", before, switches=LEAVES)))
    kept = list(index.scope(None).types.values())
    assert not kept or any(t.views for t in kept)
    index.release()
    assert all(not t.views for t in kept)  # the type indexes no longer reach their views (no cycle left)
    assert state(index) == state(SnapshotIndex(index.snapshot))


def test_the_engine_cache_releases_the_indexes_it_evicts() -> None:
    engine = PlacementEngine(PolicyConfig(), snapshots_kept_per_backend=2)
    nodes_ = [node("n0", 8, 8)]
    first = engine.index(snapshot("b", "slurm", nodes_))
    with_views(first)
    engine.index(snapshot("b", "slurm", [replace(nodes_[0], gpus_free=4)]))
    assert first._scopes  # still cached: not released
    engine.index(snapshot("b", "slurm", [replace(nodes_[0], gpus_free=2)]))
    assert not first._scopes  # evicted: released
