"""The topology-aware gang fit (policies.capacity): tiers, best fit, fragmentation, and when it can never fit."""

from __future__ import annotations

import pytest

from dualtrack.broker.domain import FilterStatus, NodeCapacity
from dualtrack.policies.capacity import GangRequest, SnapshotIndex, Tier, fit_gang
from tests.unit.policies.builders import make_job, node, rack, snapshot

OK, UNSCHED, UNRES = FilterStatus.OK, FilterStatus.UNSCHEDULABLE, FilterStatus.UNRESOLVABLE

# Two leaf switches under one spine, plus a lone switch under a second spine:
#   spine-a: leaf-1 (n1: 8 free, n2: 4 free), leaf-2 (n3: 2 free, n4: 2 free)
#   spine-b: leaf-3 (n5: 1 free)
TREE = {"leaf-1": "spine-a", "leaf-2": "spine-a", "leaf-3": "spine-b", "spine-a": None, "spine-b": None}
NODES = [
    node("n1", 8, 8, switch="leaf-1"),
    node("n2", 8, 4, switch="leaf-1"),
    node("n3", 8, 2, switch="leaf-2"),
    node("n4", 8, 2, switch="leaf-2"),
    node("n5", 8, 1, switch="leaf-3"),
]


def fit(nodes: list[NodeCapacity], switches: dict[str, str | None] | None = None, **job: object):
    index = SnapshotIndex(snapshot("b", "slurm", nodes, switches=switches))
    result = fit_gang(index, index.scope(None), GangRequest.of(make_job(**job)))  # type: ignore[arg-type]
    names = [index.snapshot.nodes[i].name for i in result.nodes]
    return result, names


@pytest.mark.parametrize(
    ("job", "status", "tier", "nodes", "stranded"),
    [
        # 1 x 8: n1 alone (the only node with 8 free); stranded 8 - 8 = 0.
        ({"workers": 1, "gpus": 8}, OK, Tier.NODE, ["n1"], 0),
        # 1 x 4: best fit is n2 (4 free), not n1 (8 free): stranded 4 - 4 = 0.
        ({"workers": 1, "gpus": 4}, OK, Tier.NODE, ["n2"], 0),
        # 3 x 4: no node holds 3 workers of 4 (n1 holds 2); leaf-1 holds 8//4 + 4//4 = 3 -> switch tier,
        # fullest first: n2 (1 worker), then n1 (2 workers); stranded (4 + 8) - 12 = 0.
        ({"workers": 3, "gpus": 4}, OK, Tier.SWITCH, ["n2", "n1", "n1"], 0),
        # 2 x 2: n3 and n4 hold 1 worker each (2 free); n2 (4 free) is the fullest node holding both: node tier.
        ({"workers": 2, "gpus": 2}, OK, Tier.NODE, ["n2", "n2"], 0),
        # 8 x 2: leaf-1 holds 4 + 2 = 6, leaf-2 holds 2 -> spine-a holds 8: spine tier.
        ({"workers": 8, "gpus": 2}, OK, Tier.SPINE, None, 0),
        # 17 x 1: spine-a has 16 free, spine-b 1 -> only the whole cluster (17): cluster tier.
        ({"workers": 17, "gpus": 1}, OK, Tier.CLUSTER, None, 0),
        # 18 x 1: 17 free in all -> not now; 40 GPUs in total -> may later.
        ({"workers": 18, "gpus": 1}, UNSCHED, None, [], 0),
        # 2 x 8: only n1 has 8 free -> not now.
        ({"workers": 2, "gpus": 8}, UNSCHED, None, [], 0),
        # 1 x 16: the largest node has 8 -> never.
        ({"workers": 1, "gpus": 16}, UNRES, None, [], 0),
        # 6 x 8 = 48 GPUs > 40 in the backend -> never.
        ({"workers": 6, "gpus": 8}, UNRES, None, [], 0),
        # h100 absent -> never.
        ({"workers": 1, "gpus": 1, "gpu_type": "h100"}, UNRES, None, [], 0),
        # 3 x 4 with a hard node tier: one node ever holds 8 // 4 = 2 workers < 3 -> never.
        ({"workers": 3, "gpus": 4, "tier": "node", "mode": "hard"}, UNRES, None, [], 0),
        # 3 x 4 with a hard switch tier: leaf-1 holds 3 now -> switch.
        ({"workers": 3, "gpus": 4, "tier": "switch", "mode": "hard"}, OK, Tier.SWITCH, ["n2", "n1", "n1"], 0),
        # 8 x 2 with a hard switch tier: leaf-1 could ever hold 16 // 2 = 8 but holds 6 now -> not now.
        ({"workers": 8, "gpus": 2, "tier": "switch", "mode": "hard"}, UNSCHED, None, [], 0),
        # 1 x 1: the fullest node with 1 free is n5: stranded 1 - 1 = 0.
        ({"workers": 1, "gpus": 1}, OK, Tier.NODE, ["n5"], 0),
        # 1 worker asking 65 CPUs, nodes have 64 -> never.
        ({"workers": 1, "gpus": 1, "cpus": 65}, UNRES, None, [], 0),
    ],
)
def test_gang_fit_table(job, status, tier, nodes, stranded) -> None:
    result, names = fit(NODES, TREE, **job)
    assert result.status is status, result.reason
    assert result.tier == tier
    if nodes is not None:
        assert names == nodes
    if status is OK:
        assert result.stranded == stranded
        assert len(result.nodes) == job["workers"]
    else:
        assert result.reason


def test_stranded_gpus_count_leftovers_on_touched_nodes() -> None:
    # 1 x 3 on nodes with 4 and 8 free: best fit takes the 4-free node, stranding 4 - 3 = 1 GPU.
    result, names = fit([node("a", 8, 8), node("b", 8, 4)], gpus=3)
    assert names == ["b"] and result.stranded == 1 and result.used == 3


def test_nvlink_domain_spanning_two_nodes_is_one_node_tier_group() -> None:
    # nodes x1 and x2 form one NVLink domain "nvl": 2 workers x 8 fit in it -> node tier.
    nodes = [node("x1", 8, 8, domain="nvl"), node("x2", 8, 8, domain="nvl"), node("y", 8, 8)]
    result, names = fit(nodes, workers=2, gpus=8, tier="node", mode="hard")
    assert result.tier is Tier.NODE and sorted(names) == ["x1", "x2"]


def test_drained_nodes_count_for_ever_but_not_for_now() -> None:
    # d is drained: its 8 GPUs make 2 x 8 possible some day (UNSCHEDULABLE), not now.
    nodes = [node("a", 8, 8), node("d", 8, 8, schedulable=False)]
    result, _ = fit(nodes, workers=2, gpus=8)
    assert result.status is UNSCHED


def test_hard_switch_tier_without_switch_topology_is_unresolvable() -> None:
    result, _ = fit(rack("k", 4), workers=2, gpus=8, tier="switch", mode="hard")
    assert result.status is UNRES and "no switch topology" in result.reason


def test_cpu_limits_the_workers_a_node_takes() -> None:
    # "a" has 8 GPUs free but only 64 CPUs: 2 workers of 40 CPUs do not fit on it together; b takes one.
    result, names = fit([node("a", 8, 8), node("b", 8, 8)], workers=2, gpus=4, cpus=40)
    assert result.status is OK and sorted(names) == ["a", "b"] and result.tier is Tier.CLUSTER


def test_any_gpu_type_picks_the_tightest_type() -> None:
    # h100 node has 8 free (node tier), a100 two nodes of 4 (cluster tier): the h100 wins.
    nodes = [node("a1", 4, 4), node("a2", 4, 4), node("h", 8, 8, gpu_type="h100")]
    result, names = fit(nodes, workers=2, gpus=4)
    assert result.gpu_type == "h100" and names == ["h", "h"]


def test_cpu_only_job() -> None:
    result, names = fit([node("c", 0, 0, gpu_type=None, cpus=16)], workers=2, gpus=0, cpus=8)
    assert result.status is OK and names == ["c", "c"]


def test_a_cycle_in_switch_parents_does_not_hang() -> None:
    # bad data: a -> b -> a. The walk up stops where it started (n1's spines: b; n2's: a), so no spine holds
    # both nodes; the gang still fits, in the cluster.
    nodes = [node("n1", 8, 8, switch="a"), node("n2", 8, 8, switch="b")]
    result, _ = fit(nodes, {"a": "b", "b": "a"}, workers=2, gpus=8)
    assert result.status is OK and result.tier is Tier.CLUSTER


def test_bad_free_counts_are_clamped() -> None:
    # a node claiming 12 free of 8 offers 8; a negative count offers none.
    result, names = fit([node("x", 8, 12), node("y", 8, -3)], workers=1, gpus=8)
    assert names == ["x"]
    result, _ = fit([node("x", 8, 12), node("y", 8, -3)], workers=2, gpus=8)
    assert result.status is UNSCHED
