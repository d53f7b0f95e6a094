"""Requests that are not valid protobuf answer INVALID_ARGUMENT (docs/api.md, Errors).

gRPC's own handling of a request it cannot decode logs an ERROR with a traceback for every call and answers
UNKNOWN, so anyone can fill the log. ``DecodingGuard`` (a server interceptor) gives every unary-request method
a deserializer that never raises: an undecodable request reaches the handler wrapper as ``Undecodable``,
which aborts with INVALID_ARGUMENT and a warning logged at most once a minute (with the count since).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

log = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60.0


class Undecodable:
    """Stands in for a request whose bytes are not a valid message of the method's type."""

    def __init__(self, reason: str):
        self.reason = reason


class _RateLimitedWarning:
    def __init__(self, every: float):
        self._every = every
        self._last = float("-inf")
        self._suppressed = 0
        self._lock = threading.Lock()

    def __call__(self, method: str, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._every:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        log.warning("undecodable request to %s (%s); %d more since the last warning", method, reason[:200],
                    suppressed)


class DecodingGuard(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, warn_every: float = WARN_EVERY_SECONDS):
        self._warn = _RateLimitedWarning(warn_every)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        method = str(handler_call_details.method)
        decode = _safe(handler.request_deserializer)
        serializers = {"request_deserializer": decode, "response_serializer": handler.response_serializer}
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(self._unary(method, handler.unary_unary), **serializers)
        if handler.unary_stream:
            behaviour = handler.unary_stream
            wrapped = (self._stream(method, behaviour) if inspect.isasyncgenfunction(behaviour)
                       else self._unary(method, behaviour))  # a coroutine writing with context.write
            return grpc.unary_stream_rpc_method_handler(wrapped, **serializers)
        return handler

    async def _refuse(self, method: str, request: Undecodable, context: grpc.aio.ServicerContext) -> None:
        self._warn(method, request.reason)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the request is not a valid protobuf message "
                                                              f"for {method.rsplit('/', 1)[-1]}")

    def _unary(self, method: str, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                await self._refuse(method, request, context)
            return await behaviour(request, context)

        return guarded

    def _stream(self, method: str, behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if isinstance(request, Undecodable):
                await self._refuse(method, request, context)
            async for item in behaviour(request, context):
                yield item

        return guarded


def _safe(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as exc:  # DecodeError, or anything a custom deserializer raises
            return Undecodable(f"{type(exc).__name__}: {exc}")

    return decode
