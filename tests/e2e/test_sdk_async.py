"""The asyncio SDK (dualtrack.client.AsyncClient) against a real ``dualtrack serve``: submit, list across three
pages, watch resumed after a broker restart, typed errors, bulk submission. Each test runs its own event loop."""

from __future__ import annotations

import asyncio

import pytest

from dualtrack.client import AsyncClient, InvalidSpec, JobNotFound, pb, state_name
from tests.e2e.conftest import REPO, BrokerProcess
from tests.e2e.test_cli import THREE_MISTAKES
from tests.e2e.test_sdk import spec


def test_submit_get_and_list_across_three_pages(broker: BrokerProcess) -> None:
    async def scenario() -> None:
        async with AsyncClient(broker.address) as client:
            ids = [(await client.submit(spec(f"aio-{i}"))).job.id for i in range(21)]
            got = await client.get(ids[0])
            assert got.name == "aio-0" and got.tenant == "sdk"
            pages = 0
            real = client.stub.ListJobs

            def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
                nonlocal pages
                pages += 1
                return real(*args, **kwargs)

            client.stub.ListJobs = counting
            listed = [job.id async for job in client.list(tenant="sdk", page_size=10)]
            assert pages == 3 and sorted(listed) == sorted(ids)

    asyncio.run(scenario())


def test_typed_errors_and_bulk_results(broker: BrokerProcess) -> None:
    async def scenario() -> None:
        async with AsyncClient(broker.address) as client:
            with pytest.raises(InvalidSpec) as caught:
                await client.submit(THREE_MISTAKES)
            assert [v.field for v in caught.value.violations] == [
                "metadata.name", "spec.resources.workers", "spec.resources.gpusPerWroker"]
            with pytest.raises(JobNotFound):
                await client.get("jnope")
            results = await client.submit_many([spec("ok-0"), THREE_MISTAKES, REPO / "examples/yolo-1gpu.yaml"])
            assert [r.ok for r in results] == [True, False, True]
            assert isinstance(results[1].error, InvalidSpec)

    asyncio.run(scenario())


def test_watch_resumes_after_the_broker_restarts(broker: BrokerProcess) -> None:
    async def scenario() -> None:
        async with AsyncClient(broker.address) as client:
            first = (await client.submit(spec("aio-before"))).job
            before = [e async for e in client.watch(first.id)]
            seen: list[pb.JobEvent] = []
            restarted = asyncio.Event()

            async def follow() -> None:
                async for event in client.watch(since=before[-1].seq, reconnect_timeout=60):
                    seen.append(event)
                    if restarted.is_set() and event.state == pb.SUCCEEDED:
                        return

            watcher = asyncio.create_task(follow())
            await asyncio.sleep(0.5)
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(broker.start)
            restarted.set()
            await client.ready(30)
            second = (await client.submit(spec("aio-after"))).job
            await asyncio.wait_for(watcher, 60)
            history = [e.seq async for e in client.watch(second.id)]
            assert [e.seq for e in seen if e.job_id == second.id] == history
            assert state_name(seen[-1].state) == "SUCCEEDED"
            done = await client.wait(second.id, timeout=30)
            assert done.state == pb.SUCCEEDED

    asyncio.run(scenario())
