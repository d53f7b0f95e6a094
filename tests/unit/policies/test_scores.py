"""Each score plugin, table-driven; the comments show the arithmetic behind every expected raw score."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.broker.domain import ClusterSnapshot, Feature, PoolCapacity
from dualtrack.policies import PlacementEngine, PolicyConfig
from tests.unit.policies.builders import context, make_job, node, rack, snapshot


def raw_scores(config: dict[str, Any], job: Any, *snaps: ClusterSnapshot, **ctx: Any) -> dict[str, dict[str, float]]:
    """Candidate key -> plugin -> raw score."""
    decision = PlacementEngine(PolicyConfig.from_mapping(config)).place(job, context(*snaps, **ctx))
    return {
        (c.backend if c.pool is None else f"{c.backend}/{c.pool}"): {s.plugin: s.raw for s in c.scores}
        for c in decision.explanation.candidates
    }


TREE = {"leaf": "spine", "leaf2": "spine", "spine": None}


@pytest.mark.parametrize(
    ("nodes", "job", "expected"),
    [
        # 1 x 8 on an empty 8-GPU node: node tier, packing 100 x 8/8: 0.8 x 100 + 0.2 x 100 = 100
        ([node("a", 8, 8, switch="leaf")], {"gpus": 8}, 100.0),
        # 1 x 4 on a node with 8 free: packing 100 x 4/(4+4) = 50: 0.8 x 100 + 0.2 x 50 = 90
        ([node("a", 8, 8, switch="leaf")], {"gpus": 4}, 90.0),
        # 2 x 8 on two empty nodes under one leaf: 0.8 x 70 + 0.2 x 100 = 76
        ([node("a", 8, 8, switch="leaf"), node("b", 8, 8, switch="leaf")], {"workers": 2, "gpus": 8}, 76.0),
        # 2 x 8 on two leaves of one spine: 0.8 x 40 + 0.2 x 100 = 52
        ([node("a", 8, 8, switch="leaf"), node("b", 8, 8, switch="leaf2")], {"workers": 2, "gpus": 8}, 52.0),
        # 2 x 8 with no switch data: cluster: 0.8 x 10 + 0.2 x 100 = 28
        ([node("a", 8, 8), node("b", 8, 8)], {"workers": 2, "gpus": 8}, 28.0),
        # the same asking (soft) for tier switch: 28 halved = 14
        ([node("a", 8, 8), node("b", 8, 8)], {"workers": 2, "gpus": 8, "tier": "switch"}, 14.0),
    ],
)
def test_topology(nodes: list[Any], job: dict[str, Any], expected: float) -> None:
    scores = raw_scores({}, make_job(**job), snapshot("b", "slurm", nodes, switches=TREE))
    assert scores["b"]["topology"] == expected


@pytest.mark.parametrize(
    ("snap", "estimates", "image_ref", "expected"),
    [
        # idle, image cached: start 0 s: 100 x 3600 / 3600 = 100
        ({}, {}, True, 100.0),
        # idle, image not converted: 120 s: 100 x 3600 / 3720 = 96.774
        ({"images": ()}, {}, True, 96.774),
        # 16 GPUs, 57600 GPU-s pending: 57600 / 16 = 3600 s wait: 100 x 3600 / 7200 = 50
        ({"pending_gpu_seconds": 57600.0}, {}, True, 50.0),
        # the backend's own estimate 7200 s after now wins over the backlog: 100 x 3600 / 10800 = 33.333
        ({"pending_gpu_seconds": 57600.0}, {("j1", "b"): 1000.0 + 7200}, True, 33.333),
        # no resolved digest: conversion assumed: 96.774
        ({}, {}, False, 96.774),
    ],
)
def test_expected_start(
    snap: dict[str, Any], estimates: dict[tuple[str, str], float], image_ref: bool, expected: float
) -> None:
    job = make_job() if image_ref else make_job(image_ref=None)
    scores = raw_scores({}, job, snapshot("b", "slurm", rack("n", 2), **snap), estimates=estimates)
    assert scores["b"]["expectedStart"] == expected


def test_expected_start_of_a_pool_uses_its_pending_demand() -> None:
    # the tenant's queue, capped at 8 GPUs with 4 pending GPUs x assumedJobSeconds 3600 = 14400 GPU-s:
    # 14400 / 8 = 1800 s -> 100 x 3600 / (3600 + 1800) = 66.667 (Kubernetes: no image conversion)
    pool = PoolCapacity("team", "queue", gpu_limit=8, pending_gpus=4)
    scores = raw_scores({}, make_job(tenant="team"), snapshot("k", "volcano", rack("n", 2), pools=[pool]))
    assert scores["k/team"]["expectedStart"] == 66.667


@pytest.mark.parametrize(
    ("datasets", "expected"),
    [
        # no datasets: 100
        ([], 100.0),
        # 6e11 B missing at 1e9 B/s = 600 s: 100 x 600 / 1200 = 50
        (["far"], 50.0),
        # present on b: 0 s: 100
        (["near"], 100.0),
        # unregistered dataset: costs nothing: 100
        (["unknown"], 100.0),
        # far + far2 = 6e11 + 1.8e12 = 2.4e12 B / 1e9 = 2400 s: 100 x 600 / 3000 = 20
        (["far", "far2", "near"], 20.0),
    ],
)
def test_data_locality(datasets: list[str], expected: float) -> None:
    config = {
        "datasets": {
            "far": {"sizeBytes": 6e11, "locations": {"elsewhere": "/data/far"}},
            "far2": {"sizeBytes": 1.8e12},
            "near": {"sizeBytes": 9e12, "locations": {"b": "/data/near"}},
        },
        "bandwidth": {"default": 5e8, "backends": {"b": 1e9}},
    }
    scores = raw_scores(config, make_job(datasets=datasets), snapshot("b", "slurm", rack("n", 2)))
    assert scores["b"]["dataLocality"] == expected


@pytest.mark.parametrize(
    ("pool", "free_per_node", "expected"),
    [
        # no pool: 2 nodes x 8 free = 16 of 16, gang 8: 100 x (16 - 8) / 16 = 50
        (None, 8, 50.0),
        # no pool: 2 x 4 free = 8 of 16: 100 x (8 - 8)/16 = 0
        (None, 4, 0.0),
        # a queue capped at 32 with 8 allocated: 100 x (32 - 8 - 8) / 32 = 50
        (PoolCapacity("team", "queue", gpu_limit=32, gpus_allocated=8), 8, 50.0),
    ],
)
def test_fair_share(pool: PoolCapacity | None, free_per_node: int, expected: float) -> None:
    snap = snapshot("k", "volcano", rack("n", 2, 8, free_per_node), pools=[pool] if pool else [])
    scores = raw_scores({}, make_job(workers=2, gpus=4, tenant="team"), snap)  # a gang of 8 GPUs
    assert scores["k" if pool is None else "k/team"]["fairShare"] == expected


@pytest.mark.parametrize(
    ("preference", "expected_slurm", "expected_kube"),
    [
        ({}, 100.0, 100.0),  # no preference: neutral
        ({"team": "slurm"}, 100.0, 0.0),
        ({"*": "kubernetes"}, 0.0, 100.0),
        ({"*": "kubernetes", "team": "slurm"}, 100.0, 0.0),  # the tenant's own entry wins over "*"
    ],
)
def test_track_preference(preference: dict[str, str], expected_slurm: float, expected_kube: float) -> None:
    scores = raw_scores(
        {"trackPreference": preference},
        make_job(tenant="team"),
        snapshot("slurm", "slurm", rack("s", 1)),
        snapshot("kube", "volcano", rack("k", 1)),
    )
    assert (scores["slurm"]["trackPreference"], scores["kube"]["trackPreference"]) == (expected_slurm, expected_kube)


def test_track_preference_decides_between_equal_backends() -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({"trackPreference": {"vision-qa": "slurm"}}))
    snaps = (snapshot("slurm", "slurm", rack("s", 1)), snapshot("kube", "volcano", rack("k", 1)))
    decision = engine.place(make_job(tenant="vision-qa"), context(*snaps))
    assert decision.placement is not None and decision.placement.backend == "slurm"


@pytest.mark.parametrize(
    ("unsupported", "job", "expected"),
    [
        # 2 x 8 under one leaf, switch locality unsupported: scored as cluster: 0.8 x 10 + 0.2 x 100 = 28
        ({Feature.TOPOLOGY_SWITCH: "no HyperNodes"}, {"workers": 2, "gpus": 8}, 28.0),
        # the same with support: 0.8 x 70 + 0.2 x 100 = 76
        ({}, {"workers": 2, "gpus": 8}, 76.0),
        # 2 x 4 in one node, node locality unsupported: cluster: 28
        ({Feature.TOPOLOGY_NODE: "no affinity"}, {"workers": 2, "gpus": 4}, 28.0),
        # 1 x 8 needs no co-location: node tier stands: 100
        ({Feature.TOPOLOGY_NODE: "no affinity"}, {"workers": 1, "gpus": 8}, 100.0),
    ],
)
def test_topology_counts_only_tiers_the_backend_can_enforce(
    unsupported: dict[Feature, str], job: dict[str, Any], expected: float
) -> None:
    snap = snapshot("k", "volcano", [node("a", 8, 8, switch="leaf"), node("b", 8, 8, switch="leaf")], switches=TREE)
    scores = raw_scores({}, make_job(**job), snap, unsupported={"k": unsupported})
    assert scores["k"]["topology"] == expected


@pytest.mark.parametrize(("converts", "expected"), [(None, 96.774), (True, 96.774), (False, 100.0)])
def test_image_conversion_counts_only_where_the_backend_converts(converts: bool | None, expected: float) -> None:
    # not converted yet: 120 s -> 100 x 3600 / 3720 = 96.774; a Slurm backend running jobs without a
    # container (converts_images False) never waits for a SIF: 100
    from dataclasses import replace

    snap = snapshot("b", "slurm", rack("n", 2), images=())
    ctx = context(snap)
    ctx = replace(ctx, backends={"b": replace(ctx.backends["b"], converts_images=converts)})
    decision = PlacementEngine(PolicyConfig.from_mapping({})).place(make_job(), ctx)
    scores = {s.plugin: s.raw for c in decision.explanation.candidates for s in c.scores}
    assert scores["expectedStart"] == expected
