"""``AsyncClient``: the asyncio dualtrack SDK, the same calls as ``Client`` as coroutines (docs/sdk.md).

``list`` and ``watch`` are async iterators. Create the client inside the running event loop.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

import grpc

from dualtrack.client.connection import Connection, TLSConfig
from dualtrack.client.errors import ADDRESS_HINT, BrokerUnavailable, WaitTimeout, from_rpc_error
from dualtrack.client.requests import (
    MAX_BATCH,
    TERMINAL_STATES,
    SpecLike,
    StateLike,
    SubmitResult,
    batches,
    list_request,
    spec_fields,
    state_name,
    submit_request,
    submit_requests,
)
from dualtrack.client.results import batch_results
from dualtrack.client.watching import Resume, reopens
from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc


class AsyncClient:
    """An asyncio connection to one broker; see ``Client`` for each method's contract.

    >>> async with AsyncClient() as broker:
    ...     result = await broker.submit({"apiVersion": "dualtrack/v1", ...})
    ...     async for event in broker.watch(result.job.id):
    ...         print(event.seq, event.state)
    """

    def __init__(self, address: str | None = None, *, token: str | None = None,
                 tls: TLSConfig | bool | None = None, timeout: float | None = 60.0,
                 channel_options: list[tuple[str, Any]] | None = None):
        self.connection = Connection.resolve(address, token, tls)
        self.timeout = timeout
        self._channel = self.connection.aio_channel(channel_options)
        self.stub = pb_grpc.BrokerStub(self._channel)  # type: ignore[no-untyped-call]

    @property
    def address(self) -> str:
        return self.connection.address

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait until the channel is connected (e.g. after a broker restart). Raises BrokerUnavailable."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError:
            raise BrokerUnavailable(f"cannot reach the broker at {self.address} within {timeout} s; "
                                    f"{ADDRESS_HINT}", "UNAVAILABLE") from None

    async def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return await method(request, metadata=self.connection.metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # -- jobs ----------------------------------------------------------------------------------------
    async def submit(self, spec: SpecLike, *, idempotency_key: str = "", track: str = "") -> SubmitResult:
        response: pb.SubmitJobResponse = await self._call(self.stub.SubmitJob,
                                                          submit_request(spec, idempotency_key, track))
        return SubmitResult(response.job, response.duplicate)

    async def submit_many(self, specs: Iterable[SpecLike], *, idempotency_keys: Iterable[str] | None = None,
                          track: str = "", batch_size: int = MAX_BATCH) -> builtins.list[SubmitResult]:
        requests = submit_requests(specs, idempotency_keys, track)
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        results: builtins.list[SubmitResult] = []
        for chunk in batches(requests, batch_size):
            response = await self._call(self.stub.SubmitJobs, pb.SubmitJobsRequest(items=chunk))
            results += batch_results(response, len(chunk))
        return results

    async def get(self, job_id: str) -> pb.Job:
        job: pb.Job = await self._call(self.stub.GetJob, pb.GetJobRequest(id=job_id))
        return job

    async def list(self, *, tenant: str = "", states: Iterable[StateLike] = (), backend: str = "",
                   page_size: int = 100, limit: int | None = None) -> AsyncIterator[pb.Job]:
        token, seen = "", 0
        while True:
            size = page_size if limit is None else min(page_size, limit - seen)
            if size <= 0:
                return
            page = await self._call(self.stub.ListJobs, list_request(tenant, states, backend, size, token))
            for job in page.jobs:
                yield job
                seen += 1
            token = page.next_page_token
            if not token:
                return

    async def cancel(self, job_id: str, *, reason: str = "") -> pb.Job:
        job: pb.Job = await self._call(self.stub.CancelJob, pb.CancelJobRequest(id=job_id, reason=reason))
        return job

    async def migrate(self, job_id: str, *, to_backend: str = "", now: bool = False, reason: str = "") -> pb.Job:
        """See ``Client.migrate``."""
        request = pb.MigrateJobRequest(id=job_id, to_backend=to_backend, now=now, reason=reason)
        job: pb.Job = await self._call(self.stub.MigrateJob, request)
        return job

    async def watch(self, job_id: str = "", *, since: int = 0, tenant: str = "", until_terminal: bool | None = None,
                    reconnect: bool = True, reconnect_timeout: float = 60.0) -> AsyncIterator[pb.JobEvent]:
        resume = Resume(job_id, since, bool(job_id) if until_terminal is None else until_terminal,
                        reconnect, reconnect_timeout)
        async for event in self._events(resume, deadline=None):
            yield event

    async def _events(self, resume: Resume, deadline: float | None) -> AsyncIterator[pb.JobEvent]:
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                call = self.stub.WatchJobs(resume.request(), metadata=self.connection.metadata, timeout=remaining)
                async for event in call:
                    resume.seen(event)
                    yield event
                    if resume.finished:
                        call.cancel()
                        return
            except grpc.RpcError as error:
                failure = from_rpc_error(error)
                if reopens(failure) and resume.may_retry():
                    await asyncio.sleep(resume.backoff())
                    continue
                if failure.code == "DEADLINE_EXCEEDED" and deadline is not None:
                    return
                raise failure from None
            if not resume.dropped():
                return
            if not resume.may_retry():
                raise BrokerUnavailable("the event stream ended and could not be resumed", "UNAVAILABLE")
            await asyncio.sleep(resume.backoff())

    async def wait(self, job_id: str, timeout: float | None = None) -> pb.Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        job = await self.get(job_id)
        if job.state not in TERMINAL_STATES:
            resume = Resume(job_id, 0, True, True, max(60.0, timeout or 0.0))
            async for _ in self._events(resume, deadline):
                pass
            job = await self.get(job_id)
        if job.state not in TERMINAL_STATES:
            raise WaitTimeout(f"job {job_id} is still {state_name(job.state)} after {timeout} s", job)
        return job

    # -- placement and artefacts ---------------------------------------------------------------------
    async def explain(self, spec: SpecLike, *, track: str = "") -> pb.ExplainPlacementResponse:
        response: pb.ExplainPlacementResponse = await self._call(
            self.stub.ExplainPlacement, pb.ExplainPlacementRequest(track=track, **spec_fields(spec)))
        return response

    async def render(self, spec: SpecLike, *, track: str = "", backend: str = "") -> pb.RenderJobResponse:
        response: pb.RenderJobResponse = await self._call(
            self.stub.RenderJob, pb.RenderJobRequest(track=track, backend=backend, **spec_fields(spec)))
        return response

    async def backends(self) -> builtins.list[pb.Backend]:
        response: pb.ListBackendsResponse = await self._call(self.stub.ListBackends, pb.ListBackendsRequest())
        return list(response.backends)
