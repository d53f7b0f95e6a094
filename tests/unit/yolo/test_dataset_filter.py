"""A dataset the backend cannot mount at /datasets/<name> makes the job UNRESOLVABLE there, with the reason."""

from __future__ import annotations

import dataclasses

from dualtrack.broker.domain import FilterStatus
from dualtrack.policies import PlacementEngine, PolicyConfig
from tests.unit.policies.builders import context, make_job, rack, snapshot


def features_verdict(datasets: frozenset[str] | None, wanted: list[str]) -> tuple[FilterStatus, str]:
    slurm = snapshot("slurm", "slurm", rack("s", 2))
    ctx = context(slurm)
    info = dataclasses.replace(ctx.backends["slurm"], datasets=datasets)
    ctx = dataclasses.replace(ctx, backends={"slurm": info})
    decision = PlacementEngine(PolicyConfig()).place(make_job(datasets=wanted), ctx)
    candidate = next(c for c in decision.explanation.candidates if c.backend == "slurm")
    verdict = next(v for v in candidate.verdicts if v.plugin == "features")
    return verdict.status, verdict.reason


def test_a_dataset_outside_the_backend_map_is_unresolvable() -> None:
    status, reason = features_verdict(frozenset({"synthetic"}), ["weld-defects"])
    assert status is FilterStatus.UNRESOLVABLE
    assert reason == "slurm cannot mount dataset 'weld-defects' at /datasets (it mounts: synthetic)"


def test_a_mapped_dataset_and_an_open_backend_pass() -> None:
    assert features_verdict(frozenset({"synthetic"}), ["synthetic"])[0] is FilterStatus.OK
    assert features_verdict(None, ["anything"])[0] is FilterStatus.OK
    assert features_verdict(frozenset(), [])[0] is FilterStatus.OK
