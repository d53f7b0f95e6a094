"""Each filter plugin, table-driven, read back from the Explanation the engine records."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.broker.domain import ClusterSnapshot, Feature, FilterStatus, PoolCapacity
from dualtrack.policies import PlacementEngine, PolicyConfig
from tests.unit.policies.builders import context, make_job, node, rack, snapshot

OK, UNSCHED, UNRES = FilterStatus.OK, FilterStatus.UNSCHEDULABLE, FilterStatus.UNRESOLVABLE


def verdict(decision: Any, backend: str, plugin: str, pool: str | None = None) -> tuple[FilterStatus, str] | None:
    for candidate in decision.explanation.candidates:
        if candidate.backend == backend and candidate.pool == pool:
            for v in candidate.verdicts:
                if v.plugin == plugin:
                    return v.status, v.reason
    return None  # the plugin did not run (an earlier gate or UNRESOLVABLE stopped the candidate)


SLURM = snapshot("slurm", "slurm", rack("s", 2))
KUBE = snapshot("kube", "volcano", rack("k", 2))


@pytest.mark.parametrize(
    ("job", "backend", "status", "reason"),
    [
        ({"track": "slurm"}, "kube", UNRES, "the job asks for track slurm; kube is kubernetes"),
        ({"track": "slurm"}, "slurm", OK, ""),
        ({"track": "kubernetes"}, "slurm", UNRES, "the job asks for track kubernetes; slurm is slurm"),
        ({"backends": ["kube"]}, "slurm", UNRES, "the job asks for backends kube; slurm is not one"),
        ({"backends": ["kube"]}, "kube", OK, ""),
        ({"excluded": ["kube"]}, "kube", UNRES, "the job left kube by a reroute"),
    ],
)
def test_explicit_choice(
    engine: PlacementEngine, job: dict[str, Any], backend: str, status: FilterStatus, reason: str
) -> None:
    decision = engine.place(make_job(**job), context(SLURM, KUBE))
    assert verdict(decision, backend, "explicitChoice") == (status, reason)


def test_a_down_backend_is_unschedulable_and_stops_the_other_filters(engine: PlacementEngine) -> None:
    down = ClusterSnapshot.down("kube", "volcano", 0.0, "connection refused")
    decision = engine.place(make_job(), context(SLURM, down))
    assert verdict(decision, "kube", "backendHealth") == (UNSCHED, "backend down: connection refused")
    assert verdict(decision, "kube", "capacity") is None
    assert decision.placement is not None and decision.placement.backend == "slurm"


def test_everything_down_is_unschedulable_not_unresolvable(engine: PlacementEngine) -> None:
    down = ClusterSnapshot.down("kube", "volcano", 0.0, "timeout")
    decision = engine.place(make_job(), context(down))
    assert decision.status is UNSCHED and "backend down: timeout" in decision.explanation.summary


@pytest.mark.parametrize(
    ("job", "unsupported", "status"),
    [
        # 2 workers need gang + multiWorker; kube lacks gang -> never there.
        ({"workers": 2, "gpus": 4}, {Feature.GANG: "no gang scheduler"}, UNRES),
        # 1 worker needs no gang.
        ({"workers": 1}, {Feature.GANG: "no gang scheduler"}, OK),
        # a hard switch tier of a gang needs topology.switch.
        (
            {"workers": 2, "gpus": 4, "tier": "switch", "mode": "hard"},
            {Feature.TOPOLOGY_SWITCH: "no HyperNodes"},
            UNRES,
        ),
        # one worker sits in one node whatever the backend supports.
        ({"tier": "node", "mode": "hard"}, {Feature.TOPOLOGY_NODE: "no affinity"}, OK),
        # a soft tier is a preference, not a need.
        ({"tier": "switch", "mode": "soft"}, {Feature.TOPOLOGY_SWITCH: "no HyperNodes"}, OK),
        ({"datasets": ["d"]}, {Feature.DATASET_VOLUMES: "no PVCs"}, UNRES),
        ({"gpu_type": "a100"}, {Feature.GPU_TYPE: "no product labels"}, UNRES),
    ],
)
def test_unsupported_features(
    engine: PlacementEngine, job: dict[str, Any], unsupported: dict[Feature, str], status: FilterStatus
) -> None:
    decision = engine.place(make_job(**job), context(SLURM, KUBE, unsupported={"kube": unsupported}))
    found = verdict(decision, "kube", "features")
    assert found is not None and found[0] is status
    if status is UNRES:
        reason = next(iter(unsupported.values()))
        assert reason in found[1]


def pool_snapshot(**pool: Any) -> ClusterSnapshot:
    return snapshot("slurm", "slurm", rack("s", 4, pools=["gpu"]), pools=[PoolCapacity("gpu", "partition", **pool)])


@pytest.mark.parametrize(
    ("pool", "job", "status", "reason"),
    [
        ({}, {}, OK, ""),
        ({"open": False}, {}, UNSCHED, "partition gpu is closed"),
        (
            {"max_time_s": 3600},
            {"time_limit": "2h"},
            UNRES,
            "partition gpu: time limit 7200 s exceeds its maximum 3600 s",
        ),
        ({"gpu_limit": 4}, {"gpus": 8}, UNRES, "partition gpu: gang of 8 GPUs exceeds its cap 4"),
        # 12 allocated + 8 > 16
        (
            {"gpu_limit": 16, "gpus_allocated": 12},
            {"gpus": 8},
            UNSCHED,
            "partition gpu: 12 GPUs allocated + 8 > cap 16",
        ),
        ({"gpu_limit": 16, "gpus_allocated": 8}, {"gpus": 8}, OK, ""),
    ],
)
def test_pool_limits(
    engine: PlacementEngine, pool: dict[str, Any], job: dict[str, Any], status: FilterStatus, reason: str
) -> None:
    decision = engine.place(make_job(**job), context(pool_snapshot(**pool)))
    assert verdict(decision, "slurm", "pool", pool="gpu") == (status, reason)


def test_a_tenant_pinned_to_its_pool_sees_only_that_pool() -> None:
    pools = [PoolCapacity("a", "queue"), PoolCapacity("b", "queue")]
    kube = snapshot("kube", "volcano", rack("k", 2), pools=pools)
    engine = PlacementEngine(PolicyConfig.from_mapping({"tenants": {"team": {"pools": {"kube": "b"}}}}))
    decision = engine.place(make_job(tenant="team"), context(kube))
    assert [c.pool for c in decision.explanation.candidates] == ["b"]
    assert decision.placement is not None and decision.placement.pool == "b"
    # queues belong to tenants: "a" sees its own queue, "else" none (the adapter picks its queue)
    engine = PlacementEngine(PolicyConfig.from_mapping({}))
    assert [c.pool for c in engine.place(make_job(tenant="a"), context(kube)).explanation.candidates] == ["a"]
    other = engine.place(make_job(tenant="else"), context(kube))
    assert [c.pool for c in other.explanation.candidates] == [None]
    assert other.placement is not None and other.placement.pool is None


def test_every_shared_partition_is_a_candidate(engine: PlacementEngine) -> None:
    pools = [PoolCapacity("gpu", "partition"), PoolCapacity("debug", "partition")]
    slurm = snapshot("slurm", "slurm", rack("s", 2), pools=pools)
    decision = engine.place(make_job(tenant="anyone"), context(slurm))
    assert [c.pool for c in decision.explanation.candidates] == ["debug", "gpu"]


def test_a_pool_that_does_not_exist_is_unresolvable() -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({"tenants": {"team": {"pools": {"kube": "nope"}}}}))
    kube = snapshot("kube", "volcano", rack("k", 2), pools=[PoolCapacity("a", "queue")])
    decision = engine.place(make_job(tenant="team"), context(kube))
    assert decision.status is UNRES and decision.reasons == {"kube/nope": ["pool: kube has no pool nope"]}


@pytest.mark.parametrize(
    ("tenants", "gpus", "jobs", "job", "status", "reason"),
    [
        ({"maxGpus": 16}, 8, 0, {"gpus": 8}, OK, ""),
        # 12 held + 8 asked = 20 > 16
        (
            {"maxGpus": 16},
            12,
            0,
            {"gpus": 8},
            UNSCHED,
            "tenant team over quota: 12 GPUs in use + 8 requested > maxGpus 16",
        ),
        # 3 x 8 = 24 GPUs > maxGpus 16 on its own: never
        ({"maxGpus": 16}, 0, 0, {"workers": 3, "gpus": 8}, UNRES, "tenant team: gang of 24 GPUs exceeds maxGpus 16"),
        # 4 running + 1 > 4
        ({"maxRunningJobs": 4}, 0, 4, {}, UNSCHED, "tenant team over quota: 4 jobs running + 1 > maxRunningJobs 4"),
        ({"maxRunningJobs": 4}, 0, 3, {}, OK, ""),
    ],
)
def test_quota(
    tenants: dict[str, Any], gpus: int, jobs: int, job: dict[str, Any], status: FilterStatus, reason: str
) -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({"tenants": {"team": tenants}}))
    big = snapshot("slurm", "slurm", rack("s", 4))
    decision = engine.place(make_job(**job), context(big, gpus={"team": gpus}, jobs={"team": jobs}))
    assert verdict(decision, "slurm", "quota") == (status, reason)


def test_unresolvable_capacity_stops_filtering_before_quota(engine: PlacementEngine) -> None:
    decision = engine.place(make_job(gpus=16), context(snapshot("slurm", "slurm", [node("s", 8)])))
    assert verdict(decision, "slurm", "capacity") is not None
    assert verdict(decision, "slurm", "quota") is None


def test_a_configured_backend_without_a_snapshot_is_down(engine: PlacementEngine) -> None:
    from dualtrack.policies import BackendInfo, PlacementContext

    ctx = PlacementContext(now=0.0, snapshots={}, backends={"hpc": BackendInfo("hpc", "slurm", "slurm")})
    decision = engine.place(make_job(), ctx)
    assert decision.status is UNSCHED
    assert decision.reasons == {"hpc": ["backendHealth: backend down: no snapshot this cycle"]}


def test_a_snapshot_without_backend_info_takes_its_track_from_its_kind(engine: PlacementEngine) -> None:
    from dualtrack.policies import PlacementContext

    ctx = PlacementContext(now=0.0, snapshots={"kube": KUBE}, backends={})
    decision = engine.place(make_job(track="kubernetes"), ctx)
    assert decision.placement is not None and decision.placement.backend == "kube"


def test_naming_only_unknown_backends_is_unresolvable(engine: PlacementEngine) -> None:
    decision = engine.place(make_job(backends=["nowhere"]), context(SLURM, KUBE))
    assert decision.status is UNRES
    assert set(decision.reasons) == {"slurm", "kube"}
