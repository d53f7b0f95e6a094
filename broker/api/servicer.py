"""The dualtrack.v1.Broker servicer: thin. Authenticates, converts proto <-> domain, calls a handler, maps
errors to status codes. All behaviour lives in broker/handlers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from broker.api import convert
from broker.api.errors import abort_with
from broker.context import BrokerContext
from broker.domain import FilterStatus, Job
from broker.handlers import inspect, jobs, watch
from proto.dualtrack.v1 import broker_pb2 as pb
from proto.dualtrack.v1 import broker_pb2_grpc as pb_grpc

T = TypeVar("T")


def _handled(method: Callable[..., T]) -> Callable[..., T]:
    """Map any error a handler raises to its gRPC status (unknown errors stay INTERNAL)."""

    @functools.wraps(method)
    def wrapper(self: BrokerServicer, request: Any, context: grpc.ServicerContext) -> T:
        try:
            return method(self, request, context)
        except Exception as exc:  # abort_with re-raises what it cannot map
            abort_with(context, exc)
            raise  # pragma: no cover - abort_with always raises

    return wrapper


class BrokerServicer(pb_grpc.BrokerServicer):
    def __init__(self, ctx: BrokerContext):
        self.ctx = ctx

    # -- auth ------------------------------------------------------------------------------------
    def _tenant(self, context: grpc.ServicerContext) -> str | None:
        """The tenant the caller acts for; None = unrestricted (no auth configured, or an admin token)."""
        tokens = self.ctx.config.auth.tokens
        if not tokens:
            return None
        metadata = dict(context.invocation_metadata() or ())
        header = str(metadata.get("authorization", ""))
        token = header.removeprefix("Bearer ").strip()
        tenant = tokens.get(token) if token else None
        if tenant is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown bearer token")
        return None if tenant == "*" else tenant

    def _track(self, job: Job) -> str:
        if job.backend and job.backend in self.ctx.backends:
            return self.ctx.backends.get(job.backend).track
        return ""

    def _job(self, job: Job, *, full: bool = True) -> pb.Job:
        return convert.job_to_pb(job, self._track(job), full=full)

    # -- RPCs ------------------------------------------------------------------------------------
    @_handled
    def SubmitJob(self, request: pb.SubmitJobRequest, context: grpc.ServicerContext) -> pb.SubmitJobResponse:
        created = jobs.submit_job(self.ctx, convert.spec_source(request), idempotency_key=request.idempotency_key,
                                  track=request.track, tenant=self._tenant(context))
        return pb.SubmitJobResponse(job=self._job(created.job), duplicate=created.duplicate)

    @_handled
    def GetJob(self, request: pb.GetJobRequest, context: grpc.ServicerContext) -> pb.Job:
        job = jobs.get_job(self.ctx, request.id, tenant=self._tenant(context))
        message = self._job(job)
        message.spec_yaml = self.ctx.store.spec_yaml(job.id)
        return message

    @_handled
    def ListJobs(self, request: pb.ListJobsRequest, context: grpc.ServicerContext) -> pb.ListJobsResponse:
        page = jobs.list_jobs(
            self.ctx, tenant=request.tenant, states=[convert.state_from_pb(s) for s in request.states],
            backend=request.backend, page_size=request.page_size, page_token=request.page_token,
            caller_tenant=self._tenant(context),
        )
        return pb.ListJobsResponse(jobs=[self._job(j, full=False) for j in page.jobs],
                                   next_page_token=page.next_page_token)

    @_handled
    def CancelJob(self, request: pb.CancelJobRequest, context: grpc.ServicerContext) -> pb.Job:
        return self._job(jobs.cancel_job(self.ctx, request.id, reason=request.reason,
                                         tenant=self._tenant(context)))

    def WatchJobs(self, request: pb.WatchJobsRequest, context: grpc.ServicerContext) -> Iterator[pb.JobEvent]:
        tenant = self._tenant(context)
        stream = watch.watch_events(
            self.ctx, job_id=request.job_id, since_seq=request.since_seq, tenant=tenant,
            follow_until_terminal=request.follow_until_terminal, keep_going=context.is_active,
        )
        try:
            if request.job_id:
                jobs.get_job(self.ctx, request.job_id, tenant=tenant)
            for event in stream:
                yield convert.event_to_pb(event)
        except Exception as exc:
            abort_with(context, exc)

    @_handled
    def ExplainPlacement(
        self, request: pb.ExplainPlacementRequest, context: grpc.ServicerContext
    ) -> pb.ExplainPlacementResponse:
        decision = inspect.explain_placement(self.ctx, convert.spec_source(request), track=request.track,
                                             tenant=self._tenant(context))
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
    def ListBackends(self, request: pb.ListBackendsRequest, context: grpc.ServicerContext) -> pb.ListBackendsResponse:
        self._tenant(context)
        return pb.ListBackendsResponse(backends=[convert.backend_to_pb(s) for s in inspect.list_backends(self.ctx)])

    @_handled
    def RenderJob(self, request: pb.RenderJobRequest, context: grpc.ServicerContext) -> pb.RenderJobResponse:
        rendered = inspect.render_job(self.ctx, convert.spec_source(request), track=request.track,
                                      backend=request.backend, tenant=self._tenant(context))
        return pb.RenderJobResponse(backend=rendered.backend, kind=rendered.kind, artefact=rendered.artefact)
