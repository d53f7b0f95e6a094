"""TLS and mutual TLS (docs/security.md): plaintext and wrongly trusting clients are refused, the tenant comes
from the client certificate, certificates are re-read when their files change, health stays reachable."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dualtrack.broker.config import ConfigError, parse_config
from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc
from tests.inprocess import InProcessBroker
from tests.unit.api.certs import CertificateAuthority, Issued
from tests.unit.api.conftest import spec_text

ADMIN_SAN = "spiffe://dualtrack/ops-admin"


class Pki:
    def __init__(self, folder: Path):
        self.folder = folder
        self.ca = CertificateAuthority("dualtrack test CA")
        self.other_ca = CertificateAuthority("some other CA")
        self.server_cert, self.server_key = self.ca.issue("broker", server=True,
                                                          sans=["localhost", "127.0.0.1"]).write(folder, "server")
        self.client_ca = folder / "clients-ca.crt"
        self.client_ca.write_bytes(self.ca.pem)
        self.qa = self.ca.issue("vision-qa")
        self.rnd = self.ca.issue("vision-rnd")
        self.admin = self.ca.issue("ops", sans=[f"uri:{ADMIN_SAN}"])
        self.bad_cn = self.ca.issue("Not A Tenant")
        self.stranger = self.other_ca.issue("vision-qa")  # right name, wrong issuer

    def tls(self, mutual: bool = True) -> dict[str, Any]:
        section: dict[str, Any] = {"certFile": str(self.server_cert), "keyFile": str(self.server_key)}
        if mutual:
            section |= {"clientCaFile": str(self.client_ca), "sanTenants": {ADMIN_SAN: "*"}}
        return section


def secure(address: str, trust: bytes, client: Issued | None = None) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=trust,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    return grpc.secure_channel(address, credentials)


def fails(call: Callable[..., Any], request: Any, **kwargs: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=5, **kwargs)
    return caught.value.code()  # type: ignore[no-any-return]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return Pki(folder)


def test_plaintext_and_untrusted_clients_are_refused(make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls()}})
    with server.channel() as plaintext:
        assert fails(pb_grpc.BrokerStub(plaintext).ListJobs, pb.ListJobsRequest()) is grpc.StatusCode.UNAVAILABLE
    with secure(server.address, pki.other_ca.pem, pki.qa) as trusting_another_ca:
        assert fails(pb_grpc.BrokerStub(trusting_another_ca).ListJobs, pb.ListJobsRequest()) \
            is grpc.StatusCode.UNAVAILABLE
    with secure(server.address, pki.ca.pem) as without_certificate:
        assert fails(pb_grpc.BrokerStub(without_certificate).ListJobs, pb.ListJobsRequest()) \
            is grpc.StatusCode.UNAVAILABLE
    with secure(server.address, pki.ca.pem, pki.stranger) as certificate_of_another_ca:
        assert fails(pb_grpc.BrokerStub(certificate_of_another_ca).ListJobs, pb.ListJobsRequest()) \
            is grpc.StatusCode.UNAVAILABLE


def test_the_client_certificate_names_the_tenant(make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls()}})
    with secure(server.address, pki.ca.pem, pki.qa) as qa_channel, \
            secure(server.address, pki.ca.pem, pki.rnd) as rnd_channel, \
            secure(server.address, pki.ca.pem, pki.admin) as admin_channel:
        qa, rnd, admin = (pb_grpc.BrokerStub(c) for c in (qa_channel, rnd_channel, admin_channel))
        job = qa.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text(tenant="default")), timeout=10).job
        assert job.tenant == "vision-qa"
        assert fails(qa.SubmitJob, pb.SubmitJobRequest(spec_yaml=spec_text(tenant="vision-rnd"))) \
            is grpc.StatusCode.INVALID_ARGUMENT
        assert fails(rnd.GetJob, pb.GetJobRequest(id=job.id)) is grpc.StatusCode.NOT_FOUND
        assert fails(rnd.CancelJob, pb.CancelJobRequest(id=job.id)) is grpc.StatusCode.NOT_FOUND
        assert rnd.ListJobs(pb.ListJobsRequest(), timeout=5).jobs == []
        assert [j.id for j in admin.ListJobs(pb.ListJobsRequest(), timeout=5).jobs] == [job.id]  # SAN -> "*"
        assert qa.CancelJob(pb.CancelJobRequest(id=job.id), timeout=5).state == pb.CANCELLED


def test_a_certificate_without_a_tenant_name_is_unauthenticated(
        make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls()}})
    with secure(server.address, pki.ca.pem, pki.bad_cn) as channel:
        assert fails(pb_grpc.BrokerStub(channel).ListJobs, pb.ListJobsRequest()) is grpc.StatusCode.UNAUTHENTICATED


def test_a_token_wins_over_the_certificate(make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls()}, "auth": {"tokens": {"tok-rnd": "vision-rnd"}}})
    with secure(server.address, pki.ca.pem, pki.qa) as channel:
        stub = pb_grpc.BrokerStub(channel)
        job = stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text()), timeout=10,
                             metadata=[("authorization", "Bearer tok-rnd")]).job
        assert job.tenant == "vision-rnd"
        assert fails(stub.ListJobs, pb.ListJobsRequest(), metadata=[("authorization", "Bearer nope")]) \
            is grpc.StatusCode.UNAUTHENTICATED


def test_tls_without_client_certificates(make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls(mutual=False)}, "auth": {"tokens": {"tok-qa": "vision-qa"}}})
    with secure(server.address, pki.ca.pem) as channel:
        stub = pb_grpc.BrokerStub(channel)
        assert fails(stub.ListJobs, pb.ListJobsRequest()) is grpc.StatusCode.UNAUTHENTICATED
        assert stub.ListJobs(pb.ListJobsRequest(), timeout=5, metadata=[("authorization", "Bearer tok-qa")]).jobs \
            == []
    with server.channel() as plaintext:
        assert fails(pb_grpc.BrokerStub(plaintext).ListJobs, pb.ListJobsRequest()) is grpc.StatusCode.UNAVAILABLE


def test_health_for_probes(make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls(), "healthAddress": "127.0.0.1:0"}})
    assert server.bound is not None and server.bound.health_port
    with grpc.insecure_channel(f"127.0.0.1:{server.bound.health_port}") as probe:
        reply = health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # the probe port serves nothing else
        assert fails(pb_grpc.BrokerStub(probe).ListJobs, pb.ListJobsRequest()) is grpc.StatusCode.UNIMPLEMENTED
    with secure(server.address, pki.ca.pem, pki.qa) as channel:  # and on the main port, with a certificate
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(service="dualtrack.v1.Broker"), timeout=5).status \
            == health_pb2.HealthCheckResponse.SERVING


def test_renewed_certificates_are_served_without_a_restart(
        make_server: Callable[..., InProcessBroker], pki: Pki) -> None:
    server = make_server({"server": {"tls": pki.tls()}})
    with secure(server.address, pki.ca.pem, pki.qa) as channel:
        pb_grpc.BrokerStub(channel).ListJobs(pb.ListJobsRequest(), timeout=5)
    renewed_ca = CertificateAuthority("renewed CA")
    renewed = renewed_ca.issue("broker", server=True, sans=["localhost", "127.0.0.1"])
    client = renewed_ca.issue("vision-qa")
    time.sleep(0.01)  # a new modification time even on coarse clocks
    pki.client_ca.write_bytes(renewed_ca.pem)
    pki.server_key.write_bytes(renewed.key_pem)
    pki.server_cert.write_bytes(renewed.cert_pem)
    with secure(server.address, renewed_ca.pem, client) as channel:
        assert pb_grpc.BrokerStub(channel).ListJobs(pb.ListJobsRequest(), timeout=5).jobs == []
    with secure(server.address, pki.ca.pem, pki.qa) as old:
        assert fails(pb_grpc.BrokerStub(old).ListJobs, pb.ListJobsRequest()) is grpc.StatusCode.UNAVAILABLE


def test_tls_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        parse_config({"server": {"tls": {"certFile": "/x.crt"}}})  # keyFile missing
    with pytest.raises(ConfigError):
        parse_config({"server": {"tls": {"certFile": "/x", "keyFile": "/y", "sanTenants": {"a": "Bad Tenant"}}}})
