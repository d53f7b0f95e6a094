"""The SDK reopens a watch stream the server side CANCELLED (gRPC's asyncio server cancels a few streams while
thousands open at once) from the last sequence number seen, in the sync and the asyncio client; a refusal such
as PERMISSION_DENIED is still raised."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from dualtrack.client import AsyncClient, Client
from dualtrack.client.errors import DualtrackError
from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc


class FlakyWatch(pb_grpc.BrokerServicer):
    """WatchJobs: the first call is cancelled by the server (``first`` status), later calls replay the job's
    events after the requested sequence number, the last one terminal."""

    def __init__(self, first: grpc.StatusCode):
        self.first = first
        self.requests: list[pb.WatchJobsRequest] = []

    def WatchJobs(self, request: pb.WatchJobsRequest, context: grpc.ServicerContext) -> Iterator[pb.JobEvent]:
        self.requests.append(request)
        events = [pb.JobEvent(seq=1, job_id="j1", type="state", state=pb.RUNNING),
                  pb.JobEvent(seq=2, job_id="j1", type="state", state=pb.SUCCEEDED)]
        if len(self.requests) == 1:
            yield events[0]
            context.abort(self.first, "stream cut by the server")
        yield from (e for e in events if e.seq > request.since_seq)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[grpc.Server] = []

    def start(servicer: FlakyWatch) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_BrokerServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


def test_the_sync_client_reopens_a_cancelled_stream_where_it_stopped(serve: Any) -> None:
    servicer = FlakyWatch(grpc.StatusCode.CANCELLED)
    with Client(serve(servicer)) as client:
        seqs = [e.seq for e in client.watch("j1")]
    assert seqs == [1, 2]  # nothing lost, nothing twice
    assert [r.since_seq for r in servicer.requests] == [0, 1]


def test_the_async_client_reopens_a_cancelled_stream_where_it_stopped(serve: Any) -> None:
    servicer = FlakyWatch(grpc.StatusCode.CANCELLED)
    address = serve(servicer)

    async def watch() -> list[int]:
        async with AsyncClient(address) as client:
            return [e.seq async for e in client.watch("j1")]

    assert asyncio.run(watch()) == [1, 2]
    assert [r.since_seq for r in servicer.requests] == [0, 1]


def test_a_refusal_is_raised_not_retried(serve: Any) -> None:
    servicer = FlakyWatch(grpc.StatusCode.PERMISSION_DENIED)
    with Client(serve(servicer)) as client, pytest.raises(DualtrackError):
        list(client.watch("j1"))
    assert len(servicer.requests) == 1
