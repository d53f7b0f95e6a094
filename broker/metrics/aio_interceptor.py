"""The asyncio twin of MetricsInterceptor for ``grpc.aio.server(interceptors=[...])``: requests by method and
status code, and their latency. Streams are measured until they end."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from broker.metrics.grpc_interceptor import _code_of, method_label


class AioMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, requests: Counter, latency: Histogram):
        self._requests = requests
        self._latency = latency

    def _record(self, method: str, context: Any, started: float, failed: bool) -> None:
        self._requests.labels(method, _code_of(context, failed)).inc()
        self._latency.labels(method).observe(time.perf_counter() - started)

    def _unary(self, method: str, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                response = await behaviour(request, context)
            except BaseException:
                self._record(method, context, started, failed=True)
                raise
            self._record(method, context, started, failed=False)
            return response

        return wrapped

    def _streaming(
        self, method: str, behaviour: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def wrapped(request: Any, context: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for item in behaviour(request, context):
                    yield item
            except BaseException:
                self._record(method, context, started, failed=True)
                raise
            self._record(method, context, started, failed=False)

        return wrapped

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = method_label(handler_call_details.method)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming methods: none in dualtrack.v1
