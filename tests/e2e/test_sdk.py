"""The Python SDK (dualtrack.client.Client) against a real ``dualtrack serve`` process: submit, list across
pages, watch resumed after a broker restart, typed errors, bulk submission, wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dualtrack.client import (
    Client,
    IdempotencyConflict,
    InvalidSpec,
    JobNotFound,
    NoBackendCanRun,
    WaitTimeout,
    pb,
    state_name,
)
from tests.e2e.conftest import REPO, BrokerProcess
from tests.e2e.test_cli import THREE_MISTAKES

ONE_GPU = REPO / "examples/yolo-1gpu.yaml"


def spec(name: str) -> dict:  # type: ignore[type-arg]
    return {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name, "tenant": "sdk"},
            "spec": {"image": "ultralytics/ultralytics:8.3.40", "yolo": {"model": "yolov8n.pt", "data": "coco8.yaml"},
                     "resources": {"workers": 1, "gpusPerWorker": 1}}}


def test_submit_from_path_text_and_dict_then_get(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        from_path = client.submit(ONE_GPU).job
        from_text = client.submit(ONE_GPU.read_text()).job
        from_dict = client.submit(spec("from-dict"), idempotency_key="k1")
        again = client.submit(spec("from-dict"), idempotency_key="k1")
        assert again.duplicate and again.job.id == from_dict.job.id and not from_dict.duplicate
        assert len({from_path.id, from_text.id, from_dict.job.id}) == 3
        got = client.get(from_dict.job.id)
        assert got.name == "from-dict" and got.tenant == "sdk" and "from-dict" in got.spec_yaml
        with pytest.raises(IdempotencyConflict):
            client.submit(spec("other-name"), idempotency_key="k1")


def test_list_iterates_across_three_pages_with_filters(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        ids = [client.submit(spec(f"page-{i}")).job.id for i in range(25)]
        client.submit(ONE_GPU)  # another tenant: filtered out below
        calls = 0
        real = client.stub.ListJobs

        def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return real(*args, **kwargs)

        client.stub.ListJobs = counting
        listed = [job.id for job in client.list(tenant="sdk", page_size=10)]
        assert calls == 3
        assert sorted(listed) == sorted(ids) and len(listed) == 25
        assert listed == sorted(listed, reverse=True)  # newest first (ids sort by creation time)
        assert len(list(client.list(tenant="sdk", page_size=10, limit=12))) == 12
        assert list(client.list(tenant="nobody")) == []
        with pytest.raises(ValueError, match="not a job state"):
            list(client.list(states=["bogus"]))


def test_typed_error_for_a_spec_with_three_mistakes(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        with pytest.raises(InvalidSpec) as caught:
            client.submit(THREE_MISTAKES)
        fields = [v.field for v in caught.value.violations]
        assert fields == ["metadata.name", "spec.resources.workers", "spec.resources.gpusPerWroker"]
        assert caught.value.code == "INVALID_ARGUMENT"
        huge = ONE_GPU.read_text().replace("gpusPerWorker: 1", "gpusPerWorker: 9")
        with pytest.raises(NoBackendCanRun) as refused:
            client.submit(huge)
        assert {name.split("/")[0] for name in refused.value.reasons} == {"slurm-a", "kube-a"}
        with pytest.raises(JobNotFound):
            client.get("jdoesnotexist")
        assert list(client.list()) == []  # nothing half-accepted


def test_submit_many_gives_each_item_its_result(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        items = [spec("bulk-0"), THREE_MISTAKES, spec("bulk-2"), spec("bulk-3")]
        results = client.submit_many(items, idempotency_keys=["a", "", "c", "a"])
        assert [r.ok for r in results] == [True, False, True, False]
        assert isinstance(results[1].error, InvalidSpec) and len(results[1].error.violations) == 3
        assert isinstance(results[3].error, IdempotencyConflict)  # same key as item 0, other spec
        stored = {job.id for job in client.list()}
        assert stored == {results[0].job.id, results[2].job.id}  # type: ignore[union-attr]
        many = client.submit_many([spec(f"sweep-{i}") for i in range(2500)])
        assert all(r.ok for r in many) and len({r.job.id for r in many}) == 2500  # type: ignore[union-attr]


def test_wait_returns_the_finished_job_and_times_out(make_broker: Callable[..., BrokerProcess]) -> None:
    broker = make_broker(run_seconds=0.5)
    with Client(broker.address) as client:
        job = client.submit(ONE_GPU).job
        done = client.wait(job.id, timeout=60)
        assert state_name(done.state) == "SUCCEEDED" and done.id == job.id
        slow = client.submit(ONE_GPU.read_text().replace("name: ", "name: slow-", 1), track="slurm").job
        client.cancel(slow.id, reason="stop")
        assert state_name(client.wait(slow.id, timeout=30).state) == "CANCELLED"


def test_wait_times_out_on_a_long_job(make_broker: Callable[..., BrokerProcess]) -> None:
    broker = make_broker(run_seconds=120)
    with Client(broker.address) as client:
        job = client.submit(ONE_GPU).job
        with pytest.raises(WaitTimeout):
            client.wait(job.id, timeout=1.5)
        client.cancel(job.id)


def test_watch_resumes_after_the_broker_restarts(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        first = client.submit(spec("before-restart")).job
        before = list(client.watch(first.id))  # its whole history, ending at SUCCEEDED
        seen: list[pb.JobEvent] = []
        restarted = threading.Event()

        def follow() -> None:  # every job's events after the first job's last one
            for event in client.watch(since=before[-1].seq, reconnect_timeout=60):
                seen.append(event)
                if restarted.is_set() and event.state == pb.SUCCEEDED:
                    return

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        time.sleep(0.5)
        broker.stop()  # the stream breaks here
        time.sleep(1.0)
        broker.start()
        restarted.set()
        client.ready(30)
        second = client.submit(spec("after-restart")).job
        watcher.join(timeout=60)
        assert not watcher.is_alive(), "the watch did not resume after the restart"
        history = [e.seq for e in client.watch(second.id)]
        assert [e.seq for e in seen if e.job_id == second.id] == history  # every event of the new job, none twice
        assert state_name(seen[-1].state) == "SUCCEEDED" and seen[-1].job_id == second.id
        assert [e.seq for e in seen] == sorted({e.seq for e in seen})  # in order, no repeats


def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_explain_render_backends(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        names = {b.name for b in client.backends()}
        assert names == {"slurm-a", "kube-a"}
        explained = client.explain(REPO / "examples/yolo-8gpu-node.yaml")
        assert explained.backend == "slurm-a"
        rendered = client.render(ONE_GPU, backend="kube-a")
        assert rendered.backend == "kube-a" and rendered.artefact


def test_tls_settings_are_checked_before_connecting(tmp_path: Path) -> None:
    from dualtrack.client import TLSConfig

    with pytest.raises(ValueError, match="cert and key go together"):
        TLSConfig(cert="c.pem")
    with pytest.raises(ValueError, match="cannot read"):
        Client("127.0.0.1:1", tls=TLSConfig(ca=tmp_path / "missing.pem"))
