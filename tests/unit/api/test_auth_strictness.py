"""Bearer tokens are strict: the ``Bearer `` scheme is required, one authorization header only, tenants in
``auth.tokens`` are validated, another tenant's job is NOT_FOUND, and tokens may be configured as SHA-256
hashes, files or environment variables."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from dualtrack.broker.config import ConfigError, parse_config
from dualtrack.v1 import broker_pb2 as pb
from tests.inprocess import InProcessBroker
from tests.unit.api.conftest import spec_text


def code_of(call: Callable[..., object], request: object, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    try:
        call(request, metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def secured(make_server: Callable[..., InProcessBroker], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> InProcessBroker:
    (tmp_path / "rnd.token").write_text("tok-from-file\n")
    monkeypatch.setenv("TEST_DUALTRACK_TOKEN", "tok-from-env")
    hashed = "sha256:" + hashlib.sha256(b"tok-hashed").hexdigest()
    return make_server({"auth": {"tokens": {"tok-qa": "vision-qa", hashed: "*",
                                            f"file:{tmp_path / 'rnd.token'}": "vision-rnd",
                                            "env:TEST_DUALTRACK_TOKEN": "vision-rnd"}}})


def test_the_bearer_scheme_is_required(secured: InProcessBroker) -> None:
    with secured.channel() as channel:
        list_jobs = secured.stub(channel).ListJobs
        request = pb.ListJobsRequest()
        assert code_of(list_jobs, request, [("authorization", "tok-qa")]) is grpc.StatusCode.UNAUTHENTICATED
        assert code_of(list_jobs, request, [("authorization", "Basic tok-qa")]) is grpc.StatusCode.UNAUTHENTICATED
        assert code_of(list_jobs, request, [("authorization", "Bearer  tok-qa")]) is grpc.StatusCode.UNAUTHENTICATED
        assert code_of(list_jobs, request, [("authorization", "Bearer tok-qa")]) is grpc.StatusCode.OK
        assert code_of(list_jobs, request, [("authorization", "bearer tok-qa")]) is grpc.StatusCode.OK


def test_two_authorization_headers_are_refused(secured: InProcessBroker) -> None:
    with secured.channel() as channel:
        metadata = [("authorization", "Bearer tok-qa"), ("authorization", "Bearer tok-hashed")]
        assert code_of(secured.stub(channel).ListJobs, pb.ListJobsRequest(), metadata) \
            is grpc.StatusCode.UNAUTHENTICATED


def test_hashed_file_and_environment_tokens(secured: InProcessBroker) -> None:
    with secured.channel() as channel:
        stub = secured.stub(channel)
        for token in ("tok-hashed", "tok-from-file", "tok-from-env"):
            assert code_of(stub.ListJobs, pb.ListJobsRequest(), [("authorization", f"Bearer {token}")]) \
                is grpc.StatusCode.OK, token
        rnd = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text()), timeout=10,
                             metadata=[("authorization", "Bearer tok-from-file")]).job
        assert rnd.tenant == "vision-rnd"
        # the hash itself is not a token
        digest = hashlib.sha256(b"tok-hashed").hexdigest()
        assert code_of(stub.ListJobs, pb.ListJobsRequest(), [("authorization", f"Bearer {digest}")]) \
            is grpc.StatusCode.UNAUTHENTICATED


def test_another_tenants_job_is_not_found(secured: InProcessBroker) -> None:
    with secured.channel() as channel:
        stub = secured.stub(channel)
        rnd = [("authorization", "Bearer tok-from-env")]
        qa = [("authorization", "Bearer tok-qa")]
        job = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text()), timeout=10, metadata=rnd).job
        missing = "0" * len(job.id)
        for call, request in ((stub.GetJob, pb.GetJobRequest(id=job.id)),
                              (stub.CancelJob, pb.CancelJobRequest(id=job.id))):
            with pytest.raises(grpc.RpcError) as theirs:
                call(request, metadata=qa, timeout=10)
            with pytest.raises(grpc.RpcError) as nobodys:
                call(type(request)(id=missing), metadata=qa, timeout=10)
            assert theirs.value.code() is nobodys.value.code() is grpc.StatusCode.NOT_FOUND
            assert "vision-rnd" not in (theirs.value.details() or "")
        with pytest.raises(grpc.RpcError) as watched:
            next(stub.WatchJobs(pb.WatchJobsRequest(job_id=job.id), metadata=qa, timeout=10))
        assert watched.value.code() is grpc.StatusCode.NOT_FOUND
        assert stub.GetJob(pb.GetJobRequest(id=job.id), metadata=rnd, timeout=10).state == pb.ACCEPTED


@pytest.mark.parametrize("tenant", ["Tenant-A", "vision-qa\n", "", "a" * 64, "-x"])
def test_token_tenants_must_be_tenant_names(tenant: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"auth": {"tokens": {"tok": tenant}}})
    assert "auth.tokens" in str(caught.value)


def test_a_malformed_hash_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_config({"auth": {"tokens": {"sha256:abc": "vision-qa"}}})
