"""Bearer tokens: with ``auth.tokens`` configured, every call needs a token, and a tenant's token acts only
for that tenant."""

from __future__ import annotations

import json

import grpc
import pytest

from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc
from tests.e2e.conftest import REPO

TOKENS = {"auth": {"tokens": {"tok-admin": "*", "tok-qa": "vision-qa", "tok-rnd": "vision-rnd"}}}


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def test_tokens_are_required_and_scope_the_tenant(make_broker) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker(extra=TOKENS)
    qa_spec = (REPO / "examples" / "yolo-8gpu-node.yaml").read_text()  # tenant vision-qa
    with grpc.insecure_channel(broker.address) as channel:
        stub = pb_grpc.BrokerStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListJobs(pb.ListJobsRequest(), timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListJobs(pb.ListJobsRequest(), metadata=bearer("wrong"), timeout=10)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED

        job = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=qa_spec), metadata=bearer("tok-qa"), timeout=10).job
        assert job.tenant == "vision-qa"
        with pytest.raises(grpc.RpcError) as caught:  # another tenant's spec with the qa token
            stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=qa_spec), metadata=bearer("tok-rnd"), timeout=10)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "metadata.tenant" in (caught.value.details() or "")
        with pytest.raises(grpc.RpcError) as caught:  # reading another tenant's job
            stub.GetJob(pb.GetJobRequest(id=job.id), metadata=bearer("tok-rnd"), timeout=10)
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND  # never tells that the id exists
        assert stub.ListJobs(pb.ListJobsRequest(), metadata=bearer("tok-rnd"), timeout=10).jobs == []
        assert [j.id for j in stub.ListJobs(pb.ListJobsRequest(), metadata=bearer("tok-admin"),
                                            timeout=10).jobs] == [job.id]
    # the CLI passes --token / $DUALTRACK_TOKEN
    denied = broker.cli("list")
    assert denied.returncode == 1 and "UNAUTHENTICATED" in denied.stderr
    listed = broker.cli("list", "--token", "tok-qa", "-o", "json", check=True)
    assert [j["id"] for j in json.loads(listed.stdout)] == [job.id]
