"""The gRPC interceptor counts requests by method and code and times them, through a real loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from dualtrack.broker.metrics import BrokerMetrics

SERVICE = "test.v1.Echo"


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"bad":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
    if request == b"boom":
        raise RuntimeError("unhandled")
    return request


def _repeat(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield request
    yield request


@pytest.fixture
def served() -> Iterator[tuple[BrokerMetrics, grpc.Channel]]:
    metrics = BrokerMetrics()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2),
                         interceptors=[metrics.grpc_interceptor([f"/{SERVICE}/Unused"])])
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Repeat": grpc.unary_stream_rpc_method_handler(_repeat),
    })
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield metrics, channel
    finally:
        channel.close()
        server.stop(None)


def count(metrics: BrokerMetrics, method: str, code: str) -> float | None:
    return metrics.registry.get_sample_value("dualtrack_grpc_requests_total",
                                             {"method": f"{SERVICE}/{method}", "code": code})


def test_codes_are_counted_per_method(served: tuple[BrokerMetrics, grpc.Channel]) -> None:
    metrics, channel = served
    echo = channel.unary_unary(f"/{SERVICE}/Echo")
    assert echo(b"hi", timeout=5) == b"hi"
    for request, code in ((b"bad", grpc.StatusCode.INVALID_ARGUMENT), (b"boom", grpc.StatusCode.UNKNOWN)):
        with pytest.raises(grpc.RpcError) as raised:
            echo(request, timeout=5)
        assert raised.value.code() == code
    assert count(metrics, "Echo", "OK") == 1
    assert count(metrics, "Echo", "INVALID_ARGUMENT") == 1
    assert count(metrics, "Echo", "UNKNOWN") == 1
    duration = metrics.registry.get_sample_value("dualtrack_grpc_request_duration_seconds_count",
                                                 {"method": f"{SERVICE}/Echo"})
    assert duration == 3


def test_streams_are_counted_when_they_end(served: tuple[BrokerMetrics, grpc.Channel]) -> None:
    metrics, channel = served
    repeat = channel.unary_stream(f"/{SERVICE}/Repeat")
    assert list(repeat(b"x", timeout=5)) == [b"x", b"x"]
    assert count(metrics, "Repeat", "OK") == 1


def test_declared_methods_start_at_zero(served: tuple[BrokerMetrics, grpc.Channel]) -> None:
    metrics, _ = served
    assert count(metrics, "Unused", "OK") == 0
