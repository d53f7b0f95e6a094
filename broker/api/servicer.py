"""The dualtrack.v1.Broker servicer (asyncio): thin. Each RPC authenticates, converts proto -> domain, makes
one handler call, converts the answer back; errors map to status codes (broker/api/errors.py). All behaviour
lives in broker/handlers.

Blocking handlers run in the server's own bounded thread pool (``server.maxWorkers``), never on the event
loop and never in asyncio's default executor. SubmitJob's handler returns a future of the store's group
commit, awaited without holding a thread; WatchJobs streams wait on the event fan-out, also without a thread
(docs/api.md).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

import grpc

from dualtrack.broker.api import convert
from dualtrack.broker.api.auth import Authenticator
from dualtrack.broker.api.errors import abort_with, item_error
from dualtrack.broker.checkpoints import output_dir
from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import Job
from dualtrack.broker.handlers import bulk, inspect, jobs, migrate
from dualtrack.broker.handlers.watch import EventFanout
from dualtrack.broker.store import Created
from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc

T = TypeVar("T")


def _handled(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Map any error a handler raises to its gRPC status (unknown errors stay INTERNAL)."""

    @functools.wraps(method)
    async def wrapper(self: BrokerServicer, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await method(self, request, context)
        except Exception as exc:
            await abort_with(context, exc)
            raise  # abort_with always raises

    return wrapper


class BrokerServicer(pb_grpc.BrokerServicer):
    """Create inside the serving event loop; ``close`` ends the watch streams."""

    def __init__(self, ctx: BrokerContext, executor: Executor):
        self.ctx = ctx
        self._executor = executor
        self._auth = Authenticator(ctx.config.auth, ctx.config.server.tls)
        self._tracks = {b.name: str(b.track) for b in ctx.backends}
        self._watch = EventFanout(ctx, self._blocking)

    def close(self) -> None:
        self._watch.close()

    async def _blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking handler in the server's pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _durable(self, fn: Callable[..., Future[T]], *args: Any, **kwargs: Any) -> T:
        """Run a handler that returns a future of a store commit; await the commit without a thread."""
        return await asyncio.wrap_future(await self._blocking(fn, *args, **kwargs))

    def _tenant(self, context: grpc.aio.ServicerContext) -> str | None:
        """The caller's tenant (docs/security.md). Raises Unauthenticated."""
        if not self._auth.required:
            return None
        return self._auth.tenant(context.invocation_metadata(), context.auth_context())

    def _job(self, job: Job, *, full: bool = True, spec_yaml: str = "", into: pb.Job | None = None) -> pb.Job:
        backend = self.ctx.backends.get(job.backend) if job.backend and job.backend in self.ctx.backends else None
        return convert.job_to_pb(job, self._tracks.get(job.backend or "", ""), spec_yaml=spec_yaml, full=full,
                                 output_dir=output_dir(job, backend) or "", into=into)

    # -- RPCs ------------------------------------------------------------------------------------
    @_handled
    async def SubmitJob(self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext) -> pb.SubmitJobResponse:
        created = await self._durable(jobs.submit_job, self.ctx, convert.spec_source(request),
                                      idempotency_key=request.idempotency_key, track=request.track,
                                      tenant=self._tenant(context))
        # The reply leaves out the spec the client just sent (GetJob returns it): converting it back costs
        # more than the rest of the submission.
        return pb.SubmitJobResponse(job=self._job(created.job, full=False), duplicate=created.duplicate)

    @_handled
    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        found = await self._blocking(jobs.describe_job, self.ctx, request.id, tenant=self._tenant(context))
        return self._job(found.job, spec_yaml=found.spec_yaml)

    @_handled
    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        page = await self._blocking(
            jobs.list_jobs, self.ctx, tenant=request.tenant, states=[convert.state_from_pb(s) for s in request.states],
            backend=request.backend, page_size=request.page_size, page_token=request.page_token,
            caller_tenant=self._tenant(context),
        )
        return pb.ListJobsResponse(jobs=[self._job(j, full=False) for j in page.jobs],
                                   next_page_token=page.next_page_token)

    @_handled
    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        job = await self._blocking(jobs.cancel_job, self.ctx, request.id, reason=request.reason,
                                   tenant=self._tenant(context))
        return self._job(job)

    async def WatchJobs(self, request: pb.WatchJobsRequest,
                        context: grpc.aio.ServicerContext) -> AsyncIterator[pb.JobEvent]:
        try:
            events = self._watch.watch(job_id=request.job_id, since_seq=request.since_seq,
                                       tenant=self._tenant(context),
                                       follow_until_terminal=request.follow_until_terminal)
            # headers now, not with the first event: a client sees its stream established even while idle
            await context.send_initial_metadata(())
            async for event in events:
                yield convert.event_to_pb(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await abort_with(context, exc)

    @_handled
    async def ExplainPlacement(
        self, request: pb.ExplainPlacementRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExplainPlacementResponse:
        decision = await self._blocking(inspect.explain_placement, self.ctx, convert.spec_source(request),
                                        track=request.track, tenant=self._tenant(context))
        return convert.decision_to_pb(decision)

    @_handled
    async def ListBackends(self, request: pb.ListBackendsRequest,
                           context: grpc.aio.ServicerContext) -> pb.ListBackendsResponse:
        self._tenant(context)
        return pb.ListBackendsResponse(backends=[convert.backend_to_pb(s) for s in inspect.list_backends(self.ctx)])

    @_handled
    async def RenderJob(self, request: pb.RenderJobRequest, context: grpc.aio.ServicerContext) -> pb.RenderJobResponse:
        rendered = await self._blocking(inspect.render_job, self.ctx, convert.spec_source(request),
                                        track=request.track, backend=request.backend, tenant=self._tenant(context))
        return pb.RenderJobResponse(backend=rendered.backend, kind=rendered.kind, artefact=rendered.artefact)

    @_handled
    async def SubmitJobs(self, request: pb.SubmitJobsRequest,
                         context: grpc.aio.ServicerContext) -> pb.SubmitJobsResponse:
        items = [bulk.Submission(convert.spec_source(i), i.idempotency_key, i.track) for i in request.items]
        outcomes = await self._durable(bulk.submit_jobs, self.ctx, items, tenant=self._tenant(context))
        response = pb.SubmitJobsResponse()
        for outcome in outcomes:
            if isinstance(outcome, Created):
                result = response.results.add(duplicate=outcome.duplicate)
                self._job(outcome.job, full=False, into=result.job)  # filled in place: no copy of each Job
                response.accepted += 0 if outcome.duplicate else 1
            else:
                response.results.add(error=item_error(outcome))
        return response

    @_handled
    async def MigrateJob(self, request: pb.MigrateJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        job = await self._blocking(migrate.request_migration, self.ctx, request.id, to_backend=request.to_backend,
                                   now=request.now, reason=request.reason, tenant=self._tenant(context))
        return self._job(job)
