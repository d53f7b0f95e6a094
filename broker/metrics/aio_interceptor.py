"""The asyncio twin of MetricsInterceptor for ``grpc.aio.server(interceptors=[...])``: requests by method and
status code, and their latency. Streams are measured until they end; a stream the client ends counts as
CANCELLED."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from dualtrack.broker.metrics.grpc_interceptor import _code_of, method_label, rewrap


class AioMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, requests: Counter, latency: Histogram):
        self._requests = requests
        self._latency = latency

    def _record(self, method: str, context: Any, started: float, failed: bool, code: str = "") -> None:
        self._requests.labels(method, code or _code_of(context, failed)).inc()
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
            except (asyncio.CancelledError, GeneratorExit):  # the client went away: not a server error
                self._record(method, context, started, failed=True, code="CANCELLED")
                raise
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
        method = method_label(handler_call_details.method)
        return rewrap(handler, lambda b: self._unary(method, b), lambda b: self._streaming(method, b))
