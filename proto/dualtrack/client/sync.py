"""``Client``: the blocking dualtrack SDK (docs/sdk.md). One gRPC channel per client; thread-safe.

Every method raises a ``DualtrackError`` subclass (see dualtrack.client.errors) on failure; results are the
typed ``dualtrack.v1`` messages (``Job``, ``JobEvent``, ``Backend``...).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Iterator
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


class Client:
    """A connection to one broker.

    >>> with Client("127.0.0.1:50051") as broker:
    ...     job = broker.submit("examples/yolo-1gpu.yaml").job
    ...     broker.wait(job.id, timeout=600)

    ``address``/``token``/``tls`` default to $DUALTRACK_ADDRESS, $DUALTRACK_TOKEN and $DUALTRACK_TLS_* (see
    dualtrack.client.connection). ``timeout`` is the default deadline of each unary call in seconds.
    """

    def __init__(self, address: str | None = None, *, token: str | None = None,
                 tls: TLSConfig | bool | None = None, timeout: float | None = 60.0,
                 channel_options: list[tuple[str, Any]] | None = None):
        self.connection = Connection.resolve(address, token, tls)
        self.timeout = timeout
        self._channel = self.connection.channel(channel_options)
        self.stub = pb_grpc.BrokerStub(self._channel)  # type: ignore[no-untyped-call]

    # -- plumbing ----------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return self.connection.address

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def ready(self, timeout: float = 30.0) -> None:
        """Block until the channel is connected (e.g. after a broker restart). Raises BrokerUnavailable."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise BrokerUnavailable(f"cannot reach the broker at {self.address} within {timeout} s; "
                                    f"{ADDRESS_HINT}", "UNAVAILABLE") from None

    def _call(self, method: Callable[..., Any], request: Any, timeout: float | None = None) -> Any:
        try:
            return method(request, metadata=self.connection.metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # -- jobs ----------------------------------------------------------------------------------------
    def submit(self, spec: SpecLike, *, idempotency_key: str = "", track: str = "") -> SubmitResult:
        """Validate, store durably and queue one job. Returns the stored job (``duplicate`` when the
        idempotency key matched an earlier job with the same spec). Raises InvalidSpec, NoBackendCanRun,
        IdempotencyConflict."""
        response: pb.SubmitJobResponse = self._call(self.stub.SubmitJob,
                                                    submit_request(spec, idempotency_key, track))
        return SubmitResult(response.job, response.duplicate)

    def submit_many(self, specs: Iterable[SpecLike], *, idempotency_keys: Iterable[str] | None = None,
                    track: str = "", batch_size: int = MAX_BATCH) -> builtins.list[SubmitResult]:
        """Submit many jobs with SubmitJobs, ``batch_size`` (at most 1,000) per call, each call one durable
        commit. Returns one result per spec, in order: the job, or the typed error that refused that item
        (other items are stored regardless). Raises only for a failed call as a whole."""
        requests = submit_requests(specs, idempotency_keys, track)
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        results: builtins.list[SubmitResult] = []
        for chunk in batches(requests, batch_size):
            response: pb.SubmitJobsResponse = self._call(self.stub.SubmitJobs, pb.SubmitJobsRequest(items=chunk))
            results += batch_results(response, len(chunk))
        return results

    def get(self, job_id: str) -> pb.Job:
        """The job with its spec and placement explanation. Raises JobNotFound."""
        job: pb.Job = self._call(self.stub.GetJob, pb.GetJobRequest(id=job_id))
        return job

    def list(self, *, tenant: str = "", states: Iterable[StateLike] = (), backend: str = "",
             page_size: int = 100, limit: int | None = None) -> Iterator[pb.Job]:
        """Every job matching the filters, newest first, fetched ``page_size`` at a time as the iterator
        advances; at most ``limit`` jobs when given. ``states`` takes names ("running") or JobState numbers."""
        token, seen = "", 0
        while True:
            size = page_size if limit is None else min(page_size, limit - seen)
            if size <= 0:
                return
            page: pb.ListJobsResponse = self._call(
                self.stub.ListJobs, list_request(tenant, states, backend, size, token))
            for job in page.jobs:
                yield job
                seen += 1
            token = page.next_page_token
            if not token:
                return

    def cancel(self, job_id: str, *, reason: str = "") -> pb.Job:
        """Cancel a job in any non-terminal state; a finished job is returned unchanged. Raises JobNotFound."""
        job: pb.Job = self._call(self.stub.CancelJob, pb.CancelJobRequest(id=job_id, reason=reason))
        return job

    def migrate(self, job_id: str, *, to_backend: str = "", now: bool = False, reason: str = "") -> pb.Job:
        """Ask the broker to move a job on a backend to another one (``to_backend``, or one placement picks):
        after the job's next checkpoint, or at once with ``now``. Returns the job with the request recorded;
        the reconciler carries it out (follow it with ``watch``). Raises JobNotFound, InvalidSpec."""
        request = pb.MigrateJobRequest(id=job_id, to_backend=to_backend, now=now, reason=reason)
        job: pb.Job = self._call(self.stub.MigrateJob, request)
        return job

    def watch(self, job_id: str = "", *, since: int = 0, tenant: str = "", until_terminal: bool | None = None,
              reconnect: bool = True, reconnect_timeout: float = 60.0) -> Iterator[pb.JobEvent]:
        """Job events in order: one job's (its whole history first, ending once it is terminal unless
        ``until_terminal=False``) or every job's from ``since`` on. A dropped stream (broker restart) is
        reopened from the last sequence number seen, retrying for ``reconnect_timeout`` seconds, so no event
        is lost or repeated; then BrokerUnavailable."""
        resume = Resume(job_id, since, bool(job_id) if until_terminal is None else until_terminal,
                        reconnect, reconnect_timeout)
        yield from self._events(resume, deadline=None)

    def _events(self, resume: Resume, deadline: float | None) -> Iterator[pb.JobEvent]:
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                for event in self.stub.WatchJobs(resume.request(), metadata=self.connection.metadata,
                                                 timeout=remaining):
                    resume.seen(event)
                    yield event
                    if resume.finished:
                        return
            except grpc.RpcError as error:
                failure = from_rpc_error(error)
                if reopens(failure) and resume.may_retry():
                    time.sleep(resume.backoff())
                    continue
                if failure.code == "DEADLINE_EXCEEDED" and deadline is not None:
                    return
                raise failure from None
            if not resume.dropped():
                return
            if not resume.may_retry():
                raise BrokerUnavailable("the event stream ended and could not be resumed", "UNAVAILABLE")
            time.sleep(resume.backoff())

    def wait(self, job_id: str, timeout: float | None = None) -> pb.Job:
        """Block until the job is terminal (SUCCEEDED, FAILED or CANCELLED) and return it; follows its events
        (reconnecting across broker restarts). Raises WaitTimeout after ``timeout`` seconds, JobNotFound."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self.get(job_id)
        if job.state not in TERMINAL_STATES:
            resume = Resume(job_id, 0, True, True, max(60.0, timeout or 0.0))
            for _ in self._events(resume, deadline):
                pass
            job = self.get(job_id)
        if job.state not in TERMINAL_STATES:
            raise WaitTimeout(f"job {job_id} is still {state_name(job.state)} after {timeout} s", job)
        return job

    # -- placement and artefacts ---------------------------------------------------------------------
    def explain(self, spec: SpecLike, *, track: str = "") -> pb.ExplainPlacementResponse:
        """Dry-run placement: each backend's filter verdicts and scores, and the winner. Stores nothing."""
        response: pb.ExplainPlacementResponse = self._call(
            self.stub.ExplainPlacement, pb.ExplainPlacementRequest(track=track, **spec_fields(spec)))
        return response

    def render(self, spec: SpecLike, *, track: str = "", backend: str = "") -> pb.RenderJobResponse:
        """The exact artefact a backend would receive (``.artefact``: vcjob YAML or sbatch script)."""
        response: pb.RenderJobResponse = self._call(
            self.stub.RenderJob, pb.RenderJobRequest(track=track, backend=backend, **spec_fields(spec)))
        return response

    def backends(self) -> builtins.list[pb.Backend]:
        """Every configured backend: health, GPUs total/free by type, pools, unsupported features."""
        response: pb.ListBackendsResponse = self._call(self.stub.ListBackends, pb.ListBackendsRequest())
        return list(response.backends)

