"""The replay drives the broker's real reconciler and policies: the policy config decides where jobs go."""

from __future__ import annotations

import json

from dualtrack.sim.replay.metrics import to_json
from dualtrack.sim.replay.runner import ReplayOptions, replay, run_policy
from tests.unit.sim.helpers import trace_job, two_backends

JOBS = [trace_job(f"j{i}", 10.0 * i, 50, gpus=1, tenant="a" if i % 2 else "b") for i in range(6)]


def prefer(track: str) -> dict[str, object]:
    return {"policies": {"trackPreference": {"*": track}, "weights": {"trackPreference": 100}}}


def test_swapping_the_policy_config_changes_the_decisions() -> None:
    clusters = two_backends(k8s_nodes=2, slurm_nodes=2)
    options = ReplayOptions(cycle_seconds=5.0)
    kube = run_policy("live", JOBS, clusters, options, broker=prefer("kubernetes"))
    slurm = run_policy("live", JOBS, clusters, options, broker=prefer("slurm"))
    assert set(kube.decisions.values()) == {"k"}
    assert set(slurm.decisions.values()) == {"s"}


def test_the_same_seed_gives_the_same_json() -> None:
    clusters = two_backends(k8s_nodes=1, slurm_nodes=1)
    jobs = [trace_job(f"x{i}", 7.0 * i, 40 + i, gpus=1 + i % 4, tenant=f"t{i % 3}") for i in range(12)]
    options = ReplayOptions(cycle_seconds=10.0, seed=3)
    first = json.dumps(to_json(replay(jobs, clusters, ("live", "round-robin", "single-pool"), options), seed=3))
    second = json.dumps(to_json(replay(jobs, clusters, ("live", "round-robin", "single-pool"), options), seed=3))
    assert first == second
    other = ReplayOptions(cycle_seconds=10.0, seed=4)
    assert json.loads(first)["policies"]["live"] == to_json(replay(jobs, clusters, ("live",), other),
                                                            seed=4)["policies"]["live"]
