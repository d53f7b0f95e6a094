"""The gRPC server: the Broker service, standard health checking and reflection, metrics interceptor."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from broker.api.servicer import BrokerServicer
from broker.context import BrokerContext
from proto.dualtrack.v1 import broker_pb2, broker_pb2_grpc

SERVICE_NAME = broker_pb2.DESCRIPTOR.services_by_name["Broker"].full_name  # "dualtrack.v1.Broker"


class BoundServer:
    """A started server and the port it bound (useful with address port 0)."""

    def __init__(self, server: grpc.Server, port: int, health_servicer: health.HealthServicer):
        self.server = server
        self.port = port
        self.health = health_servicer

    def stop(self, grace: float = 2.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(ctx: BrokerContext, address: str | None = None) -> BoundServer:
    """Bind and start. Raises RuntimeError naming the address when it cannot be bound."""
    address = address or ctx.config.server.address
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=ctx.config.server.max_workers, thread_name_prefix="grpc"),
        interceptors=[ctx.metrics.grpc_interceptor()],
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 * 1024 * 1024)],
    )
    broker_pb2_grpc.add_BrokerServicer_to_server(BrokerServicer(ctx), server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise RuntimeError(f"cannot listen on {address}: {exc}") from None
    if port == 0:
        raise RuntimeError(f"cannot listen on {address}: address in use or invalid")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return BoundServer(server, port, health_servicer)
