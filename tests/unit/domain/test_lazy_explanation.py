"""Job.explanation taken encoded (the store's JSON text) is decoded at the first read, once, and reads back
exactly as the explanation that was encoded; the job stays immutable."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dualtrack.broker.domain import (
    CandidateEvaluation,
    EncodedExplanation,
    Explanation,
    FilterStatus,
    FilterVerdict,
    Job,
    ScoreRecord,
)
from tests.contract.store_contract import spec


def explanation() -> Explanation:
    return Explanation(
        decided_at=1_700_000_000.5, winner="kube-a", winner_pool="gpu", summary="kube-a: free now",
        candidates=(
            CandidateEvaluation("kube-a", "gpu", FilterStatus.OK,
                                (FilterVerdict("fits", FilterStatus.OK),),
                                (ScoreRecord("wait", 80.0, 2.0, 160.0, "starts now"),), 160.0),
            CandidateEvaluation("slurm-a", None, FilterStatus.UNSCHEDULABLE,
                                (FilterVerdict("fits", FilterStatus.UNSCHEDULABLE, "8 GPUs busy"),)),
        ),
    )


def encoded(value: Explanation) -> EncodedExplanation:
    return EncodedExplanation(json.dumps(value.to_dict()))


def test_an_encoded_explanation_reads_back_exactly() -> None:
    job = Job(id="j1", spec=spec(), explanation=encoded(explanation()))
    assert not job.explanation_decoded
    assert job.explanation == explanation()
    assert job.explanation_decoded


def test_it_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    decode = EncodedExplanation.decode
    monkeypatch.setattr(EncodedExplanation, "decode", lambda self: calls.append(1) or decode(self))
    job = Job(id="j1", spec=spec(), explanation=encoded(explanation()))
    first, second = job.explanation, job.explanation
    assert first is second and len(calls) == 1


def test_evolve_carries_it_over_without_decoding() -> None:
    job = Job(id="j1", spec=spec(), explanation=encoded(explanation()))
    moved = job.evolve(attempt=2)
    assert not moved.explanation_decoded and not job.explanation_decoded
    assert moved.explanation == explanation()
    assert job.evolve(explanation=None).explanation is None


def test_plain_values_and_null_stay_as_given() -> None:
    assert Job(id="j1", spec=spec()).explanation is None
    assert Job(id="j1", spec=spec(), explanation=explanation()).explanation == explanation()
    assert Job(id="j1", spec=spec(), explanation=EncodedExplanation("null")).explanation is None


def test_jobs_compare_by_the_decoded_value() -> None:
    job = Job(id="j1", spec=spec(), explanation=encoded(explanation()), created_at=1.0, updated_at=1.0,
              state_since=1.0)
    assert job == job.evolve(explanation=explanation())
    assert job != job.evolve(explanation=dataclasses.replace(explanation(), summary="other"))


def test_the_explanation_cannot_be_assigned() -> None:
    job = Job(id="j1", spec=spec(), explanation=encoded(explanation()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.explanation = None  # type: ignore[misc]


def test_evolve_equals_dataclasses_replace_for_every_field() -> None:
    """evolve builds the copy without __init__: each field changed alone must read back as replace gives it,
    and the original stays as it was."""
    job = Job(id="j1", spec=spec(), explanation=encoded(explanation()), created_at=1.0, updated_at=2.0,
              state_since=3.0)
    before = dataclasses.astuple(job)
    values = {"id": "j2", "state": job.state.__class__.RUNNING, "attempt": 3, "backend": "kube-a",
              "reason": "why", "exit_code": 7, "idempotency_key": "k", "created_at": 9.0, "updated_at": 9.5,
              "state_since": 9.75, "version": 4, "excluded_backends": ("slurm-a",), "resume_from": "/c/last.pt",
              "image_ref": "r@sha256:00", "explanation": None}
    for name in (f.name for f in dataclasses.fields(Job)):
        if name not in values:
            continue
        moved, expected = job.evolve(**{name: values[name]}), dataclasses.replace(job, **{name: values[name]})
        assert moved == expected, name
        assert getattr(moved, name) == values[name], name
    assert dataclasses.astuple(job) == before


def test_evolve_refuses_an_unknown_field() -> None:
    job = Job(id="j1", spec=spec())
    with pytest.raises(TypeError, match="colour"):
        job.evolve(colour="red")
