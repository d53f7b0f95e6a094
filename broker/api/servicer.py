"""The dualtrack.v1.Broker servicer (asyncio): thin. Authenticates, converts proto <-> domain, calls a
handler, maps errors to status codes. All behaviour lives in broker/handlers.

Handlers are plain blocking functions; they run in worker threads (``asyncio.to_thread``), except the CPU-only
half of SubmitJob, which runs on the event loop before it awaits the store's group commit without holding a
thread. That keeps a submission's cost to the validation and one share of an fsync.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from dualtrack.broker.api import convert
from dualtrack.broker.api.errors import Unauthenticated, abort_with
from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import FilterStatus, Job
from dualtrack.broker.handlers import inspect, jobs, migrate, watch
from dualtrack.broker.store import IdempotencyConflict
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
    def __init__(self, ctx: BrokerContext):
        self.ctx = ctx

    # -- auth ------------------------------------------------------------------------------------
    def _tenant(self, context: grpc.aio.ServicerContext) -> str | None:
        """The tenant the caller acts for; None = unrestricted (no auth configured, or an admin token).
        Raises Unauthenticated."""
        tokens = self.ctx.config.auth.tokens
        if not tokens:
            return None
        metadata = dict(context.invocation_metadata() or ())
        header = str(metadata.get("authorization", ""))
        token = header.removeprefix("Bearer ").strip()
        tenant = tokens.get(token) if token else None
        if tenant is None:
            raise Unauthenticated("missing or unknown bearer token")
        return None if tenant == "*" else tenant

    def _track(self, job: Job) -> str:
        if job.backend and job.backend in self.ctx.backends:
            return self.ctx.backends.get(job.backend).track
        return ""

    def _job(self, job: Job, *, full: bool = True) -> pb.Job:
        return convert.job_to_pb(job, self._track(job), full=full)

    # -- RPCs ------------------------------------------------------------------------------------
    @_handled
    async def SubmitJob(self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext) -> pb.SubmitJobResponse:
        new = jobs.prepare_submission(self.ctx, convert.spec_source(request), idempotency_key=request.idempotency_key,
                                      track=request.track, tenant=self._tenant(context))
        try:
            created = await asyncio.wrap_future(self.ctx.store.create_future(new))
        except IdempotencyConflict:
            jobs.submission_conflicted(self.ctx, new)
            raise
        jobs.submission_stored(self.ctx, created)
        # The reply leaves out the spec the client just sent (GetJob returns it): converting it back costs
        # more than the rest of the submission.
        return pb.SubmitJobResponse(job=self._job(created.job, full=False), duplicate=created.duplicate)

    @_handled
    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        tenant = self._tenant(context)

        def read() -> pb.Job:
            job = jobs.get_job(self.ctx, request.id, tenant=tenant)
            message = self._job(job)
            message.spec_yaml = self.ctx.store.spec_yaml(job.id)
            return message

        return await asyncio.to_thread(read)

    @_handled
    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        tenant = self._tenant(context)
        page = await asyncio.to_thread(
            jobs.list_jobs, self.ctx, tenant=request.tenant, states=[convert.state_from_pb(s) for s in request.states],
            backend=request.backend, page_size=request.page_size, page_token=request.page_token, caller_tenant=tenant,
        )
        return pb.ListJobsResponse(jobs=[self._job(j, full=False) for j in page.jobs],
                                   next_page_token=page.next_page_token)

    @_handled
    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        tenant = self._tenant(context)
        job = await asyncio.to_thread(jobs.cancel_job, self.ctx, request.id, reason=request.reason, tenant=tenant)
        return self._job(job)

    async def WatchJobs(self, request: pb.WatchJobsRequest,
                        context: grpc.aio.ServicerContext) -> AsyncIterator[pb.JobEvent]:
        active = True
        try:
            tenant = self._tenant(context)
            if request.job_id:
                await asyncio.to_thread(jobs.get_job, self.ctx, request.job_id, tenant=tenant)
            stream = watch.watch_events(
                self.ctx, job_id=request.job_id, since_seq=request.since_seq, tenant=tenant,
                follow_until_terminal=request.follow_until_terminal, keep_going=lambda: active,
            )
            done = object()
            while True:
                event = await asyncio.to_thread(next, stream, done)
                if event is done:
                    return
                yield convert.event_to_pb(event)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await abort_with(context, exc)
        finally:
            active = False  # lets the generator's thread stop at its next poll

    @_handled
    async def ExplainPlacement(
        self, request: pb.ExplainPlacementRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExplainPlacementResponse:
        decision = await asyncio.to_thread(inspect.explain_placement, self.ctx, convert.spec_source(request),
                                           track=request.track, tenant=self._tenant(context))
        placement = decision.placement
        response = pb.ExplainPlacementResponse(
            status=convert.filter_status_to_pb(decision.status),
            backend=placement.backend if placement else "",
            pool=(placement.pool or "") if placement else "",
            tier=(placement.tier or "") if placement else "",
        )
        explanation = convert.explanation_to_pb(decision.explanation)
        if explanation is not None:
            response.explanation.CopyFrom(explanation)
        if decision.status is FilterStatus.UNRESOLVABLE and not decision.explanation.candidates:
            response.explanation.summary = "no backends are configured"
        return response

    @_handled
    async def ListBackends(self, request: pb.ListBackendsRequest,
                           context: grpc.aio.ServicerContext) -> pb.ListBackendsResponse:
        self._tenant(context)
        return pb.ListBackendsResponse(backends=[convert.backend_to_pb(s) for s in inspect.list_backends(self.ctx)])

    @_handled
    async def RenderJob(self, request: pb.RenderJobRequest, context: grpc.aio.ServicerContext) -> pb.RenderJobResponse:
        rendered = await asyncio.to_thread(inspect.render_job, self.ctx, convert.spec_source(request),
                                           track=request.track, backend=request.backend,
                                           tenant=self._tenant(context))
        return pb.RenderJobResponse(backend=rendered.backend, kind=rendered.kind, artefact=rendered.artefact)

    @_handled
    async def MigrateJob(self, request: pb.MigrateJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        job = await asyncio.to_thread(migrate.request_migration, self.ctx, request.id, to_backend=request.to_backend,
                                      now=request.now, reason=request.reason, tenant=self._tenant(context))
        return self._job(job)
