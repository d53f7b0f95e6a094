"""A plain gRPC client over a real socket: typed specs, errors with rich details, reflection, health,
watch streams, and a restart that keeps every job."""

from __future__ import annotations

import signal
import threading

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc
from tests.e2e.conftest import REPO, BrokerProcess


def typed_spec(name: str = "grpc-job", gpus: int = 2, workers: int = 1) -> pb.JobSpec:
    return pb.JobSpec(
        api_version="dualtrack/v1",
        kind="TrainingJob",
        metadata=pb.Metadata(name=name, tenant="vision-qa", labels={"project": "weld"}),
        spec=pb.TrainingSpec(
            image="ultralytics/ultralytics:8.3.40",
            yolo=pb.YoloSpec(task="detect", model="yolov8n.pt", data="coco8.yaml", epochs=3, batch=16),
            resources=pb.Resources(workers=workers, gpus_per_worker=gpus, gpu_type="a100", memory_per_worker="32Gi"),
            priority_name="high",
            time_limit="1h",
        ),
    )


@pytest.fixture
def stub(broker: BrokerProcess):  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(broker.address) as channel:
        yield pb_grpc.BrokerStub(channel)


def test_reflection_lists_the_broker_service(broker: BrokerProcess) -> None:
    with grpc.insecure_channel(broker.address) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "dualtrack.v1.Broker" in names
    assert "grpc.health.v1.Health" in names


def test_health_answers_serving(broker: BrokerProcess) -> None:
    with grpc.insecure_channel(broker.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "dualtrack.v1.Broker"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_typed_submit_get_list_watch(stub) -> None:  # type: ignore[no-untyped-def]
    submitted = stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec()), timeout=10).job
    assert submitted.state == pb.ACCEPTED and submitted.tenant == "vision-qa"
    stored = stub.GetJob(pb.GetJobRequest(id=submitted.id), timeout=10)
    assert stored.spec.spec.resources.gpus_per_worker == 2
    assert stored.spec.spec.priority == 1000  # the named class became its number

    events = list(stub.WatchJobs(pb.WatchJobsRequest(job_id=submitted.id, follow_until_terminal=True), timeout=60))
    assert [pb.JobState.Name(e.state) for e in events] == ["ACCEPTED", "PLACED", "SUBMITTED", "RUNNING", "SUCCEEDED"]
    assert [e.seq for e in events] == sorted(e.seq for e in events)

    job = stub.GetJob(pb.GetJobRequest(id=submitted.id), timeout=10)
    assert job.state == pb.SUCCEEDED and job.backend in {"slurm-a", "kube-a"}
    assert job.object_name == f"dt-{job.id}-1" and job.backend_job_id
    assert job.explanation.winner == job.backend
    assert "apiVersion: dualtrack/v1" in job.spec_yaml

    listed = stub.ListJobs(pb.ListJobsRequest(tenant="vision-qa", states=[pb.SUCCEEDED]), timeout=10)
    assert [j.id for j in listed.jobs] == [submitted.id]


def test_list_paginates(stub) -> None:  # type: ignore[no-untyped-def]
    ids = {stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec(f"page-{i}")), timeout=10).job.id for i in range(5)}
    seen: list[str] = []
    token = ""
    while True:
        page = stub.ListJobs(pb.ListJobsRequest(page_size=2, page_token=token), timeout=10)
        seen.extend(j.id for j in page.jobs)
        assert len(page.jobs) <= 2
        token = page.next_page_token
        if not token:
            break
    assert set(seen) == ids and len(seen) == 5


def test_invalid_spec_carries_one_field_violation_per_problem(stub) -> None:  # type: ignore[no-untyped-def]
    spec = typed_spec()
    spec.metadata.name = "Bad Name"
    spec.spec.resources.workers = 0
    spec.spec.time_limit = "forever"
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitJob(pb.SubmitJobRequest(spec=spec), timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert {v.field for v in bad.field_violations} == {"metadata.name", "spec.resources.workers", "spec.timeLimit"}


def test_idempotency_key_reuse(stub) -> None:  # type: ignore[no-untyped-def]
    first = stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec(), idempotency_key="k1"), timeout=10)
    again = stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec(), idempotency_key="k1"), timeout=10)
    assert again.duplicate and again.job.id == first.job.id
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec(gpus=4), idempotency_key="k1"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS


def test_impossible_job_fails_precondition_with_every_backend(stub) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec(gpus=9)), timeout=10)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    failure = error_details_pb2.PreconditionFailure()
    rpc_status.from_call(caught.value).details[0].Unpack(failure)
    assert {v.subject.split("/")[0] for v in failure.violations} == {"slurm-a", "kube-a"}


def test_not_found_and_explain(stub) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetJob(pb.GetJobRequest(id="jmissing"), timeout=10)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    explained = stub.ExplainPlacement(pb.ExplainPlacementRequest(spec=typed_spec(gpus=8)), timeout=10)
    assert explained.status == pb.OK and explained.backend == "slurm-a"
    assert {c.backend for c in explained.explanation.candidates} == {"slurm-a", "kube-a"}


def test_watch_all_jobs_sees_new_submissions(stub) -> None:  # type: ignore[no-untyped-def]
    seen: list[pb.JobEvent] = []
    stream = stub.WatchJobs(pb.WatchJobsRequest(), timeout=30)

    def reader() -> None:
        for event in stream:
            seen.append(event)
            if event.state == pb.SUCCEEDED:
                stream.cancel()
                return

    thread = threading.Thread(target=reader)
    thread.start()
    import time

    time.sleep(0.5)
    job = stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec("watched")), timeout=10).job
    thread.join(timeout=30)
    assert {e.job_id for e in seen} == {job.id}
    assert seen[-1].state == pb.SUCCEEDED


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restarting_serve_keeps_every_job(make_broker, sig: int) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker(run_seconds=60)
    with grpc.insecure_channel(broker.address) as channel:
        stub = pb_grpc.BrokerStub(channel)
        ids = {stub.SubmitJob(pb.SubmitJobRequest(spec=typed_spec(f"keep-{i}")), timeout=10).job.id
               for i in range(20)}
    broker.stop(sig)
    broker.start()
    with grpc.insecure_channel(broker.address) as channel:
        stub = pb_grpc.BrokerStub(channel)
        listed = stub.ListJobs(pb.ListJobsRequest(page_size=100), timeout=10)
        assert {j.id for j in listed.jobs} == ids
        for job_id in ids:
            assert stub.GetJob(pb.GetJobRequest(id=job_id), timeout=10).name.startswith("keep-")


def test_render_uses_a_backend_of_the_track(stub) -> None:  # type: ignore[no-untyped-def]
    rendered = stub.RenderJob(pb.RenderJobRequest(spec_yaml=(REPO / "examples/yolo-1gpu.yaml").read_text(),
                                                  track="kubernetes"), timeout=10)
    assert rendered.backend == "kube-a" and "yolo detect train" in rendered.artefact
