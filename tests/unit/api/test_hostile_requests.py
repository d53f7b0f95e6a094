"""Hostile requests through gRPC: each gets a clear status, never UNKNOWN or a traceback, and none of them
holds up the event loop."""

from __future__ import annotations

import logging
import threading
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from dualtrack.broker.domain.limits import MAX_SPEC_BYTES
from dualtrack.broker.handlers import specs
from dualtrack.v1 import broker_pb2 as pb
from tests.inprocess import InProcessBroker
from tests.unit.api.conftest import spec_text


def refused(call: Any, request: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=20, **kwargs)
    return caught.value


def field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found = []
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            found += [(v.field, v.description) for v in request.field_violations]
    return found


def trailer_bytes(error: grpc.RpcError) -> int:
    return sum(len(k) + len(v) for k, v in error.trailing_metadata() or ())  # type: ignore[attr-defined]


def test_a_20kb_image_gets_a_short_reply_within_the_metadata_limit(server: InProcessBroker) -> None:
    text = spec_text(**{"image: ultralytics/ultralytics:8.3.40": "image: " + "A[b]" * 5000})
    with server.channel() as channel:
        error = refused(server.stub(channel).SubmitJob, pb.SubmitJobRequest(spec_yaml=text))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    (field, description), = field_violations(error)
    assert field == "spec.image" and "20000 characters" in description and len(description) < 200
    assert trailer_bytes(error) < 8 * 1024


def test_a_20kb_bad_value_is_quoted_short(server: InProcessBroker) -> None:
    text = spec_text(**{"priority: normal": "priority: " + "A[b]" * 5000})
    with server.channel() as channel:
        error = refused(server.stub(channel).SubmitJob, pb.SubmitJobRequest(spec_yaml=text))
    (field, description), = field_violations(error)
    assert field == "spec.priority" and "(20000 characters)" in description and len(description) < 200


def test_hundreds_of_problems_still_fit_the_reply(server: InProcessBroker) -> None:
    labels = ", ".join(f'"k{i}\\n": v' for i in range(500))
    env = ", ".join(f'"E{i}-{"x" * 300}": v' for i in range(200))
    text = spec_text() + f"  env: {{{env}}}\n" + f"  datasets: [{', '.join('D' * 300 for _ in range(100))}]\n"
    text = text.replace("labels: {project: coco8}", f"labels: {{{labels}}}")
    with server.channel() as channel:
        error = refused(server.stub(channel).SubmitJob, pb.SubmitJobRequest(spec_yaml=text))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(error)
    assert trailer_bytes(error) < 8 * 1024


def test_a_spec_over_the_size_limit_is_invalid_argument(server: InProcessBroker) -> None:
    text = spec_text() + "# " + "x" * MAX_SPEC_BYTES + "\n"
    with server.channel() as channel:
        error = refused(server.stub(channel).SubmitJob, pb.SubmitJobRequest(spec_yaml=text))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == ["spec_yaml"]


def test_a_typed_spec_over_the_size_limit_is_invalid_argument(server: InProcessBroker) -> None:
    spec = pb.JobSpec(api_version="dualtrack/v1", kind="TrainingJob", metadata=pb.Metadata(name="big"),
                      spec=pb.TrainingSpec(image="x", command=["echo"] + ["a" * 100_000] * 12))
    with server.channel() as channel:
        error = refused(server.stub(channel).SubmitJob, pb.SubmitJobRequest(spec=spec))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(error)] == ["spec"]


def test_a_large_spec_is_parsed_off_the_event_loop(server: InProcessBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = specs.parse_spec_yaml

    def recording(text: str) -> Any:
        threads.append(threading.current_thread().name)
        return real(text)

    monkeypatch.setattr(specs, "parse_spec_yaml", recording)
    big = spec_text() + "# " + "x" * (MAX_SPEC_BYTES - 2000) + "\n"
    with server.channel() as channel:
        server.stub(channel).SubmitJob(pb.SubmitJobRequest(spec_yaml=big), timeout=20)
    assert threads and all(name.startswith("handler") for name in threads), threads


def test_health_answers_while_large_specs_are_parsed(server: InProcessBroker) -> None:
    big = spec_text() + "  command: [" + ", ".join(["x" * 1000] * 900) + "]\n"
    with server.channel() as channel, server.channel() as probe_channel:
        stub = server.stub(channel)
        futures = [stub.SubmitJob.future(pb.SubmitJobRequest(spec_yaml=big), timeout=60) for _ in range(20)]
        health = health_pb2_grpc.HealthStub(probe_channel)
        missed = 0
        while not all(f.done() for f in futures):
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
            except grpc.RpcError:
                missed += 1
        for future in futures:
            assert future.exception() is not None  # yolo and command both given: a field error, after parsing
        assert missed == 0


def test_undecodable_requests_are_invalid_argument_without_a_traceback(
        server: InProcessBroker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with server.channel() as channel:
        for method, kind in (("SubmitJob", channel.unary_unary), ("GetJob", channel.unary_unary),
                             ("WatchJobs", channel.unary_stream)):
            call = kind(f"/dualtrack.v1.Broker/{method}")
            for _ in range(3):
                with pytest.raises(grpc.RpcError) as caught:
                    result = call(b"\xff\xff\xff\xff", timeout=10)
                    list(result) if method == "WatchJobs" else None
                assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, method
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert len([r for r in caplog.records if "undecodable" in r.getMessage()]) == 1  # rate-limited
    sample = server.ctx.metrics.registry.get_sample_value
    assert sample("dualtrack_grpc_requests_total",
                  {"method": "dualtrack.v1.Broker/SubmitJob", "code": "INVALID_ARGUMENT"}) == 3
    assert not sample("dualtrack_grpc_requests_total", {"method": "dualtrack.v1.Broker/SubmitJob", "code": "UNKNOWN"})


def test_a_watch_the_client_ends_counts_as_cancelled(server: InProcessBroker) -> None:
    with server.channel() as channel:
        stub = server.stub(channel)
        watcher = stub.WatchJobs(pb.WatchJobsRequest())
        stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text()), timeout=10)
        next(watcher)
        watcher.cancel()

    def counted(code: str) -> float:
        return server.ctx.metrics.registry.get_sample_value(
            "dualtrack_grpc_requests_total", {"method": "dualtrack.v1.Broker/WatchJobs", "code": code}) or 0.0

    import time
    deadline = time.monotonic() + 10
    while counted("CANCELLED") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counted("CANCELLED") == 1 and counted("UNKNOWN") == 0
