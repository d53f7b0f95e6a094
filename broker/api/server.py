"""The asyncio gRPC server: the Broker service, standard health checking and reflection, metrics interceptor,
the guard for undecodable requests; plaintext, TLS or mutual TLS (docs/security.md).

``start_server`` must be awaited inside a running event loop; ``BoundServer.stop`` likewise.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from dualtrack.broker.api.decoding import DecodingGuard
from dualtrack.broker.api.servicer import BrokerServicer
from dualtrack.broker.api.tls import CertificateFiles
from dualtrack.broker.context import BrokerContext
from dualtrack.v1 import broker_pb2, broker_pb2_grpc

BROKER_SERVICE = broker_pb2.DESCRIPTOR.services_by_name["Broker"]
SERVICE_NAME = BROKER_SERVICE.full_name  # "dualtrack.v1.Broker"
# Requests larger than this are refused by gRPC itself (RESOURCE_EXHAUSTED); specs have a smaller limit of
# their own (docs/spec.md, Limits), answered with INVALID_ARGUMENT. 4 MiB is also what clients accept.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


class BoundServer:
    """A started server and the port it bound (useful with address port 0)."""

    def __init__(self, server: grpc.aio.Server, port: int, health_servicer: HealthServicer,
                 servicer: BrokerServicer, executor: futures.ThreadPoolExecutor,
                 health_server: grpc.aio.Server | None = None, health_port: int | None = None):
        self.server = server
        self.port = port
        self.health_server = health_server
        self.health_port = health_port  # the plaintext health-only listener (server.healthAddress), if any
        self.health = health_servicer
        self.servicer = servicer
        self._executor = executor

    async def stop(self, grace: float = 2.0) -> None:
        await self.health.enter_graceful_shutdown()
        self.servicer.close()  # ends watch streams, so the grace period is not spent waiting for them
        await self.server.stop(grace)
        if self.health_server is not None:
            await self.health_server.stop(0)
        self._executor.shutdown(wait=False, cancel_futures=True)


async def start_server(ctx: BrokerContext, address: str | None = None, *, share_port: bool = False) -> BoundServer:
    """Bind and start; ``share_port`` lets several broker processes listen on one address (SO_REUSEPORT).
    Raises RuntimeError naming the address when it cannot be bound."""
    address = address or ctx.config.server.address
    methods = [f"/{SERVICE_NAME}/{m.name}" for m in BROKER_SERVICE.methods]
    # The handlers' own bounded pool: unary calls keep this capacity whatever the watch streams do.
    executor = futures.ThreadPoolExecutor(max_workers=ctx.config.server.max_workers, thread_name_prefix="handler")
    servicer = BrokerServicer(ctx, executor)
    server = grpc.aio.server(
        executor,
        interceptors=[ctx.metrics.aio_grpc_interceptor(methods), DecodingGuard()],
        options=[("grpc.so_reuseport", 1 if share_port else 0),
                 ("grpc.max_receive_message_length", MAX_REQUEST_BYTES)],
    )
    broker_pb2_grpc.add_BrokerServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE, reflection.SERVICE_NAME), server)
    tls = ctx.config.server.tls
    credentials = CertificateFiles(tls).credentials() if tls is not None else None
    port = _listen(server, address, credentials)
    health_server, health_port = None, None
    if ctx.config.server.health_address:
        health_server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if share_port else 0)])
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, health_server)
        health_port = _listen(health_server, ctx.config.server.health_address, None)
    await server.start()
    if health_server is not None:
        await health_server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return BoundServer(server, port, health_servicer, servicer, executor, health_server, health_port)


def _listen(server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None) -> int:
    try:
        port = (server.add_secure_port(address, credentials) if credentials is not None
                else server.add_insecure_port(address))
    except RuntimeError as exc:
        raise RuntimeError(f"cannot listen on {address}: {exc}") from None
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}: address in use or invalid")
    return int(port)
