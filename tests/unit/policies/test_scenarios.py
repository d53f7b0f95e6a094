"""The five scenarios of issue 5, end to end through PlacementEngine."""

from __future__ import annotations

from dualtrack.broker.domain import FilterStatus
from dualtrack.policies import PlacementEngine, PolicyConfig
from tests.unit.policies.builders import context, make_job, node, rack, snapshot


def test_a_node_tier_gang_goes_where_8_gpus_share_a_node(engine: PlacementEngine) -> None:
    # Slurm: one node with 8 free. Kubernetes: 8 nodes with 1 free each (8 free in all).
    slurm = snapshot("slurm", "slurm", [node("s1", 8, 8, switch="l")], switches={"l": None})
    kube = snapshot("kube", "volcano", rack("k", 8, 8, 1, switch="kl"), switches={"kl": None})
    ctx = context(slurm, kube)
    # 1 worker x 8 GPUs, tier node: only Slurm can hold it.
    decision = engine.place(make_job(gpus=8, tier="node"), ctx)
    assert decision.placement is not None and decision.placement.backend == "slurm"
    assert decision.placement.tier == "node"
    # 8 workers x 1 GPU, tier node (soft): both fit, Slurm in one node (topology 100), Kubernetes only
    # under one switch (0.8 x 70 + 0.2 x 100 = 76, halved to 38 for missing the node tier).
    decision = engine.place(make_job(workers=8, gpus=1, tier="node"), ctx)
    assert decision.placement is not None and decision.placement.backend == "slurm"
    kube_eval = next(c for c in decision.explanation.candidates if c.backend == "kube")
    assert next(s for s in kube_eval.scores if s.plugin == "topology").raw == 38.0
    # ... and with a hard node tier Kubernetes is filtered out.
    decision = engine.place(make_job(workers=8, gpus=1, tier="node", mode="hard"), ctx)
    assert decision.placement is not None and decision.placement.backend == "slurm"
    assert decision.reasons["kube"][0].startswith("capacity:")


def test_b_a_2tb_dataset_present_only_on_kubernetes_pulls_the_job_there() -> None:
    engine = PlacementEngine(
        PolicyConfig.from_mapping(
            {
                "datasets": {"weld-defects": {"sizeBytes": "2e12", "locations": {"kube": "pvc/weld"}}},
                "bandwidth": {"default": 1.25e9},
            }
        )
    )
    slurm = snapshot("slurm", "slurm", rack("s", 4))
    kube = snapshot("kube", "volcano", rack("k", 4))
    decision = engine.place(make_job(gpus=8, datasets=["weld-defects"]), context(slurm, kube))
    assert decision.placement is not None and decision.placement.backend == "kube"
    slurm_eval = next(c for c in decision.explanation.candidates if c.backend == "slurm")
    # staging on Slurm: 2e12 B / 1.25e9 B/s = 1600 s -> dataLocality 100 x 600 / (600 + 1600) = 27.273
    assert next(s for s in slurm_eval.scores if s.plugin == "dataLocality").raw == 27.273


def test_c_a_10_hour_backlog_on_kubernetes_sends_the_job_to_idle_slurm(engine: PlacementEngine) -> None:
    # Kubernetes: 32 GPUs with 10 h x 32 GPUs of pending work ahead; Slurm: idle (image not yet converted).
    kube = snapshot("kube", "volcano", rack("k", 4), pending_gpu_seconds=10 * 3600 * 32)
    slurm = snapshot("slurm", "slurm", rack("s", 4), images=())
    decision = engine.place(make_job(gpus=8), context(slurm, kube))
    assert decision.placement is not None and decision.placement.backend == "slurm"
    kube_eval = next(c for c in decision.explanation.candidates if c.backend == "kube")
    # expectedStart on Kubernetes: 100 x 3600 / (3600 + 36000) = 9.091; Slurm: 120 s conversion -> 96.774
    assert next(s for s in kube_eval.scores if s.plugin == "expectedStart").raw == 9.091


def test_d_a_tenant_over_quota_waits_while_others_proceed() -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({"tenants": {"vision-qa": {"maxGpus": 16}}}))
    ctx = context(
        snapshot("slurm", "slurm", rack("s", 4)),
        snapshot("kube", "volcano", rack("k", 4)),
        gpus={"vision-qa": 12},  # 12 GPUs held over both tracks already
    )
    jobs = [make_job("over", tenant="vision-qa", gpus=8), make_job("other", tenant="speech", gpus=8)]
    decisions = {d.job_id: d for d in engine.place_batch(jobs, ctx)}
    assert decisions["over"].status is FilterStatus.UNSCHEDULABLE
    assert "12 GPUs in use + 8 requested > maxGpus 16" in decisions["over"].explanation.summary
    assert decisions["other"].status is FilterStatus.OK


def test_e_a_job_impossible_everywhere_is_refused_with_each_backends_reason(engine: PlacementEngine) -> None:
    slurm = snapshot("slurm", "slurm", rack("s", 2, gpu_type="a100"))
    kube = snapshot("kube", "volcano", rack("k", 2, gpu_type="v100"))
    decision = engine.place(make_job(gpus=8, gpu_type="h100"), context(slurm, kube))
    assert decision.status is FilterStatus.UNRESOLVABLE and decision.placement is None
    assert decision.explanation.unresolvable_everywhere
    assert decision.reasons == {
        "kube": ["capacity: no h100 GPUs here (has v100 x 16)"],
        "slurm": ["capacity: no h100 GPUs here (has a100 x 16)"],
    }
