"""A gRPC server interceptor counting requests by method and status code and timing them.

Installed by the gRPC server (``grpc.server(..., interceptors=[metrics.grpc_interceptor()])``). The code is
what the servicer set (``context.abort``/``set_code``), ``UNKNOWN`` for an unhandled exception, else ``OK``.
Streaming responses are measured until the stream ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import Counter, Histogram


def method_label(full_method: str) -> str:
    """``/dualtrack.v1.Broker/SubmitJob`` -> ``dualtrack.v1.Broker/SubmitJob``."""
    return full_method.lstrip("/")


def _code_of(context: grpc.ServicerContext, failed: bool) -> str:
    code = None
    try:
        code = context.code()
    except (AttributeError, NotImplementedError):  # older grpcio or a test double
        code = None
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(code, int):
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), "UNKNOWN")
    return "UNKNOWN" if failed else "OK"


class MetricsInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, requests: Counter, latency: Histogram):
        self._requests = requests
        self._latency = latency

    def _record(self, method: str, context: grpc.ServicerContext, started: float, failed: bool) -> None:
        self._requests.labels(method, _code_of(context, failed)).inc()
        self._latency.labels(method).observe(time.perf_counter() - started)

    def _unary(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                response = behaviour(request, context)
            except BaseException:
                self._record(method, context, started, failed=True)
                raise
            self._record(method, context, started, failed=False)
            return response

        return wrapped

    def _streaming(self, method: str, behaviour: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            try:
                yield from behaviour(request, context)
            except BaseException:
                self._record(method, context, started, failed=True)
                raise
            self._record(method, context, started, failed=False)

        return wrapped

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = method_label(handler_call_details.method)
        return rewrap(handler, lambda b: self._unary(method, b), lambda b: self._streaming(method, b))


def rewrap(
    handler: grpc.RpcMethodHandler | None,
    unary: Callable[[Callable[..., Any]], Callable[..., Any]],
    streaming: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> grpc.RpcMethodHandler | None:
    """``handler`` with its behaviour wrapped: by ``unary`` for unary responses, by ``streaming`` for streams.
    Shared by the sync and the asyncio interceptors."""
    if handler is None:
        return None
    serializers = {"request_deserializer": handler.request_deserializer,
                   "response_serializer": handler.response_serializer}
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **serializers)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **serializers)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **serializers)
    return handler
