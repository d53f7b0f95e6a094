"""``convert.job_to_pb`` (also filling a message in place, as SubmitJobs does for each result) gives the same
Job message as building it with every field as a keyword: empty strings unset, timestamps to the nanosecond."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dualtrack.broker.api.convert import explanation_to_pb, job_to_pb, spec_to_pb, timestamp
from dualtrack.broker.domain import (
    BackendRef,
    CandidateEvaluation,
    Explanation,
    FilterStatus,
    Job,
    JobState,
    parse_spec_yaml,
)
from dualtrack.v1 import broker_pb2 as pb

SPEC = parse_spec_yaml((Path(__file__).resolve().parents[3] / "examples" / "yolo-1gpu.yaml").read_text())


def _reference(job: Job, track: str, spec_yaml: str, full: bool, output_dir: str) -> pb.Job:
    """Every field as a keyword of the constructor."""
    message = pb.Job(
        id=job.id, name=job.name, tenant=job.tenant, state=pb.JobState.Value(job.state.value), attempt=job.attempt,
        backend=job.backend or "", track=track, backend_job_id=job.backend_ref.native_id if job.backend_ref else "",
        object_name=job.object_name, reason=job.reason, image_ref=job.image_ref or "",
        created_at=timestamp(job.created_at), updated_at=timestamp(job.updated_at),
        state_since=timestamp(job.state_since), spec_yaml=spec_yaml, output_dir=output_dir,
    )
    if job.exit_code is not None:
        message.exit_code = job.exit_code
    if full:
        message.spec.CopyFrom(spec_to_pb(job.spec))
        explanation = explanation_to_pb(job.explanation)
        if explanation is not None:
            message.explanation.CopyFrom(explanation)
    return message


NEW = Job(id="j0new", spec=SPEC, created_at=1765000000.123456, updated_at=1765000000.123456,
          state_since=1765000000.123456)
PLACED = Job(id="j0placed", spec=SPEC, state=JobState.FAILED, attempt=2, backend="hpc",
             backend_ref=BackendRef("hpc", "dt-j0placed-2", "4711"), image_ref="reg/img@sha256:ab", reason="oom",
             exit_code=0, created_at=1.5, updated_at=2.25, state_since=3.000000001,
             explanation=Explanation(decided_at=2.0, winner="hpc", winner_pool=None, summary="hpc wins",
                                     candidates=(CandidateEvaluation(backend="hpc", pool=None,
                                                                     status=FilterStatus.OK),)))
CASES: list[tuple[Job, dict[str, Any]]] = [
    (NEW, {"track": "", "spec_yaml": "", "full": False, "output_dir": ""}),
    (NEW, {"track": "", "spec_yaml": "kind: TrainingJob\n", "full": True, "output_dir": ""}),
    (PLACED, {"track": "slurm", "spec_yaml": "", "full": True, "output_dir": "/ckpt/qa/j0placed"}),
    (PLACED, {"track": "slurm", "spec_yaml": "", "full": False, "output_dir": ""}),
]


@pytest.mark.parametrize(("job", "options"), CASES)
def test_job_message_equals_the_keyword_built_one(job: Job, options: dict[str, Any]) -> None:
    expected = _reference(job, options["track"], options["spec_yaml"], options["full"], options["output_dir"])
    built = job_to_pb(job, options["track"], spec_yaml=options["spec_yaml"], full=options["full"],
                      output_dir=options["output_dir"])
    assert built == expected
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
    reply = pb.SubmitJobsResponse()
    result = reply.results.add(duplicate=True)
    job_to_pb(job, options["track"], spec_yaml=options["spec_yaml"], full=options["full"],
              output_dir=options["output_dir"], into=result.job)
    assert result.job == expected and result.duplicate
