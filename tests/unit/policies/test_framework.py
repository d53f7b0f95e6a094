"""The framework's own duties: filter order and stops, range checks, normalization, weights, tie-breaks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from dualtrack.broker.domain import FilterStatus
from dualtrack.policies import PlacementEngine, PluginError, PolicyConfig
from dualtrack.policies.framework import FilterResult, RawScore, evaluate
from tests.unit.policies.builders import context, make_job, node, rack, snapshot


@dataclass
class FakeCandidate:
    backend: str
    pool_name: str | None = None
    tier_rank: int = 0


class FixedScore:
    """Scores each backend from a table."""

    def __init__(self, name: str, table: dict[str, float]):
        self.name = name  # type: ignore[misc]
        self.table = table

    def score(self, job: Any, candidate: Any) -> RawScore:
        return RawScore(self.table[candidate.backend])


class FixedFilter:
    gate: ClassVar[bool] = False

    def __init__(self, name: str, table: dict[str, FilterResult], gate: bool = False):
        self.name = name  # type: ignore[misc]
        self.table = table
        self.gate = gate  # type: ignore[misc]
        self.calls: list[str] = []

    def filter(self, job: Any, candidate: Any) -> FilterResult:
        self.calls.append(candidate.backend)
        return self.table.get(candidate.backend, FilterResult.ok())


def run(candidates: list[str], filters: list[Any], scores: list[tuple[Any, float]]) -> tuple[Any, Any]:
    return evaluate(make_job(), [FakeCandidate(c) for c in candidates], filters, scores)  # type: ignore[arg-type]


def test_normalize_then_weight() -> None:
    # a: raw 40 -> normalized 40 x 100 / 80 = 50; b: raw 80 -> 100 (the best becomes 100).
    # c: raw 10 vs 10 -> 100 each. weights 3 and 1, so
    # total(a) = (50 x 3 + 100 x 1) / 4 = 62.5; total(b) = (100 x 3 + 100 x 1) / 4 = 100.
    first = FixedScore("first", {"a": 40, "b": 80})
    second = FixedScore("second", {"a": 10, "b": 10})
    evaluated, winner = run(["a", "b"], [], [(first, 3.0), (second, 1.0)])
    totals = {e.candidate.backend: e.total for e in evaluated}
    assert totals == {"a": 62.5, "b": 100.0}
    assert winner.candidate.backend == "b"
    record = evaluated[0].record()
    assert [(s.plugin, s.raw, s.weight, s.weighted) for s in record.scores] == [
        ("first", 40.0, 3.0, 150.0),
        ("second", 10.0, 1.0, 100.0),
    ]


def test_all_zero_scores_stay_zero() -> None:
    evaluated, _ = run(["a", "b"], [], [(FixedScore("z", {"a": 0, "b": 0}), 1.0)])
    assert [e.total for e in evaluated] == [0.0, 0.0]


@pytest.mark.parametrize("bad", [-0.1, 100.5, float("nan"), float("inf")])
def test_a_score_out_of_range_is_a_plugin_bug(bad: float) -> None:
    with pytest.raises(PluginError, match="broken"):
        run(["a"], [], [(FixedScore("broken", {"a": bad}), 1.0)])


def test_ties_go_to_the_tighter_tier_then_the_name() -> None:
    same = FixedScore("same", {"a": 50, "b": 50, "c": 50})
    cands = [FakeCandidate("c", tier_rank=1), FakeCandidate("b", tier_rank=0), FakeCandidate("a", tier_rank=1)]
    _, winner = evaluate(make_job(), cands, [], [(same, 1.0)])  # type: ignore[arg-type]
    assert winner.candidate.backend == "b"
    cands = [FakeCandidate("c"), FakeCandidate("a")]
    _, winner = evaluate(make_job(), cands, [], [(same, 1.0)])  # type: ignore[arg-type]
    assert winner.candidate.backend == "a"


def test_unresolvable_stops_a_candidates_filters_unschedulable_does_not() -> None:
    first = FixedFilter("first", {"a": FilterResult.unresolvable("never"), "b": FilterResult.unschedulable("not now")})
    second = FixedFilter("second", {})
    evaluated, winner = run(["a", "b", "c"], [first, second], [])
    assert second.calls == ["b", "c"]
    assert [e.status for e in evaluated] == [FilterStatus.UNRESOLVABLE, FilterStatus.UNSCHEDULABLE, FilterStatus.OK]
    assert winner.candidate.backend == "c"


def test_a_failing_gate_stops_the_later_filters() -> None:
    gate = FixedFilter("gate", {"a": FilterResult.unschedulable("down")}, gate=True)
    later = FixedFilter("later", {"a": FilterResult.unresolvable("would mislead")})
    evaluated, winner = run(["a"], [gate, later], [])
    assert later.calls == [] and evaluated[0].status is FilterStatus.UNSCHEDULABLE and winner is None


def test_the_worst_verdict_wins() -> None:
    first = FixedFilter("first", {"a": FilterResult.unschedulable("not now")})
    second = FixedFilter("second", {"a": FilterResult.unresolvable("never")})
    evaluated, _ = run(["a"], [first, second], [])
    assert evaluated[0].status is FilterStatus.UNRESOLVABLE
    assert evaluated[0].record().reasons == ["first: not now", "second: never"]


def test_weights_come_from_config_and_zero_disables() -> None:
    engine = PlacementEngine(PolicyConfig.from_mapping({"weights": {"fairShare": 0, "topology": 5}}))
    decision = engine.place(make_job(), context(snapshot("b", "slurm", rack("n", 1))))
    scores = {s.plugin: s.weight for s in decision.explanation.candidates[0].scores}
    assert "fairShare" not in scores and scores["topology"] == 5.0


def test_the_explanation_round_trips_through_a_dict(engine: PlacementEngine) -> None:
    from dualtrack.broker.domain import Explanation

    decision = engine.place(make_job(), context(snapshot("b", "slurm", rack("n", 1)), snapshot("k", "volcano", [])))
    assert Explanation.from_dict(decision.explanation.to_dict()) == decision.explanation
    assert decision.explanation.winner == "b" and "placed on b" in decision.explanation.summary


def test_the_profile_sets_the_trade_off_between_start_time_and_topology() -> None:
    # Slurm: one 8-GPU node (node tier) behind a 1-hour backlog (8 x 3600 GPU-s / 8 GPUs);
    # Kubernetes: 8 nodes with 1 GPU free each under one switch, idle. Job: 8 workers x 1 GPU.
    slurm = snapshot("slurm", "slurm", [node("s", 8, 8)], pending_gpu_seconds=8 * 3600)
    kube = snapshot("kube", "volcano", rack("k", 8, 8, 1, switch="l"), switches={"l": None})
    job = make_job(workers=8, gpus=1)
    # default (expectedStart 3, topology 2, dataLocality 1, fairShare 1, trackPreference 1; sum 8):
    #   slurm: start 50 -> 50 x 3 = 150, topology 100 x 2 = 200, 100, 0, 100 -> 550 / 8 = 68.75
    #   kube:  start 100 x 3 = 300, topology 76 -> 76 x 2 = 152, 100, 0, 100 -> 652 / 8 = 81.5
    default = PlacementEngine(PolicyConfig.from_mapping({})).place(job, context(slurm, kube))
    assert default.placement is not None and default.placement.backend == "kube"
    assert {c.backend: c.total for c in default.explanation.candidates} == {"slurm": 68.75, "kube": 81.5}
    # binpack (topology 3, expectedStart 1, dataLocality 1, trackPreference 1; sum 6):
    #   slurm: 300 + 50 + 100 + 100 = 550 / 6 = 91.667; kube: 228 + 100 + 100 + 100 = 528 / 6 = 88
    binpack = PlacementEngine(PolicyConfig.from_mapping({"profile": "binpack"})).place(job, context(slurm, kube))
    assert binpack.placement is not None and binpack.placement.backend == "slurm"
    assert {c.backend: c.total for c in binpack.explanation.candidates} == {"slurm": 91.667, "kube": 88.0}
