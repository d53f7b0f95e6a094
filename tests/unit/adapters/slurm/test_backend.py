"""SlurmBackend over a scripted transport: snapshot arithmetic, idempotent submit, observe, check."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dualtrack.adapters.base import Backend, BackendUnavailable, StartEstimator
from dualtrack.adapters.slurm.backend import SlurmBackend, broker_job_of
from dualtrack.adapters.slurm.health import health_from_scontrol_ping, sdiag_statistics, with_diag
from dualtrack.adapters.slurm.parsers import parse_jobs, parse_nodes
from dualtrack.adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord, SwitchRecord, TestOnlyResult
from dualtrack.adapters.slurm.render import BatchRequest
from dualtrack.adapters.slurm.text import parse_partitions_text, parse_topology
from dualtrack.broker.domain import BackendPhase, BackendRef, ControllerHealth, FailureKind, Feature, Placement

from .conftest import FIXTURES, load, make_job, settings


class ScriptedTransport:
    """A SlurmTransport that plays back recorded documents and counts calls."""

    def __init__(self) -> None:
        self.live: list[JobRecord] = []
        self.past: list[JobRecord] = []
        self.node_records = parse_nodes(load("sinfo_22.05.8.json"))
        self.partition_records = parse_partitions_text((FIXTURES / "partitions_22.05.8.txt").read_text())
        self.switch_records = parse_topology((FIXTURES / "topology_22.05.8.txt").read_text())
        self.submitted: list[BatchRequest] = []
        self.cancelled: list[str] = []
        self.jobs_calls = 0
        self.fail_submit: Exception | None = None
        self.test_only_result: TestOnlyResult | None = TestOnlyResult(start=1.0e9)
        self.next_id = 500
        self.files: dict[str, list[str]] = {}
        self.ping_text = (FIXTURES / "22.05.8" / "scontrol_ping.txt").read_text()

    def submit(self, request: BatchRequest) -> str:
        if self.fail_submit:
            raise self.fail_submit
        self.submitted.append(request)
        self.next_id += 1
        self.live.append(JobRecord(job_id=str(self.next_id), name=request.name, state="PENDING"))
        return str(self.next_id)

    def test_only(self, request: BatchRequest) -> TestOnlyResult | None:
        return self.test_only_result

    def jobs(self) -> list[JobRecord]:
        self.jobs_calls += 1
        return list(self.live)

    def history(self, job_ids: Sequence[str]) -> list[JobRecord]:
        return [r for r in self.past if r.job_id in job_ids]

    def nodes(self) -> list[NodeRecord]:
        return self.node_records

    def partitions(self) -> list[PartitionRecord]:
        return self.partition_records

    def topology(self) -> list[SwitchRecord]:
        return self.switch_records

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def list_dir(self, path: str) -> list[str]:
        return self.files.get(path, [])

    def controller(self) -> ControllerHealth:
        sdiag = sdiag_statistics((FIXTURES / "22.05.8" / "sdiag.txt").read_text())
        return with_diag(health_from_scontrol_ping(self.ping_text, 0.002), sdiag)

    def close(self) -> None:
        return None


@pytest.fixture
def transport() -> ScriptedTransport:
    return ScriptedTransport()


@pytest.fixture
def backend(transport: ScriptedTransport) -> SlurmBackend:
    return SlurmBackend("slurm-unit", settings(), transport, clock=lambda: 1234.0)


def test_is_a_backend_and_a_start_estimator(backend: SlurmBackend) -> None:
    assert isinstance(backend, Backend) and isinstance(backend, StartEstimator)
    assert (backend.kind, backend.track) == ("slurm", "slurm")
    assert list(backend.unsupported) == [Feature.TOPOLOGY_NODE]  # several workers are never packed on one node


def test_snapshot_of_the_recorded_cluster(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    transport.live = parse_jobs(load("squeue_22.05.8.json"))
    snap = backend.snapshot()
    nodes = {n.name: n for n in snap.nodes}
    # n4 was drained when recorded: it stays listed but is not schedulable, so totals count 3 nodes
    assert [n.schedulable for n in snap.nodes] == [True, True, True, False]
    assert (snap.gpus_total, snap.gpus_free) == (24, 20)  # 3 x 8; n1 had a 4-GPU job
    assert (nodes["n1"].gpu_type, nodes["n1"].gpus_total, nodes["n1"].gpus_free) == ("a100", 8, 4)
    assert nodes["n1"].cpus_total == 16 and nodes["n1"].memory_total == 64000 * 1024**2
    assert [n.switch for n in snap.nodes] == ["leaf1", "leaf1", "leaf2", "leaf2"]
    assert {(s.name, s.parent) for s in snap.switches} == {("leaf1", "spine"), ("leaf2", "spine"), ("spine", None)}
    (pool,) = snap.pools
    # pending: job 19 asks 4 nodes x 8 GPUs for 10 minutes -> 32 GPUs, 32 x 600 GPU-seconds
    assert (pool.name, pool.pending_jobs, pool.pending_gpus, pool.pending_gpu_seconds) == ("gpu", 1, 32, 19200.0)
    assert pool.gpus_allocated == 4 and pool.open and pool.max_time_s is None
    assert (snap.running_jobs, snap.pending_jobs, snap.taken_at) == (2, 1, 1234.0)


def test_submit_is_idempotent_and_lists_once(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    job = make_job()
    first = backend.submit(job, Placement("slurm-unit"))
    again = backend.submit(job, Placement("slurm-unit"))
    other = backend.submit(make_job(job_id="jother"), Placement("slurm-unit"))
    assert first == again == BackendRef("slurm-unit", "dt-jtest0000000a-1", "501")
    assert other.native_id == "502" and len(transport.submitted) == 2
    assert transport.jobs_calls == 1  # one listing for the process, none per submit


def test_submit_after_a_crash_finds_the_job_already_in_slurm(transport: ScriptedTransport) -> None:
    transport.live = [JobRecord(job_id="77", name="dt-jtest0000000a-1", state="RUNNING")]
    fresh = SlurmBackend("slurm-unit", settings(), transport)
    assert fresh.submit(make_job(), Placement("slurm-unit")).native_id == "77"
    assert transport.submitted == []


def test_uncertain_submit_makes_the_next_one_look_again(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    backend.submit(make_job(job_id="jwarm"), Placement("slurm-unit"))
    transport.fail_submit = BackendUnavailable("sbatch timed out")
    with pytest.raises(BackendUnavailable):
        backend.submit(make_job(), Placement("slurm-unit"))
    transport.fail_submit = None
    transport.live.append(JobRecord(job_id="900", name="dt-jtest0000000a-1", state="PENDING"))  # it did arrive
    assert backend.submit(make_job(), Placement("slurm-unit")).native_id == "900"
    assert transport.jobs_calls == 2


def test_observe_live_history_missing_and_reused_ids(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    transport.live = [JobRecord(job_id="1", name="dt-ja-1", state="RUNNING", nodes="n[1-2]", start_time=10.0)]
    transport.past = [JobRecord(job_id="2", name="dt-jb-1", state="FAILED", reason="NonZeroExitCode",
                                exit_code=3, start_time=5.0, end_time=9.0),
                      JobRecord(job_id="4", name="someone-else", state="COMPLETED")]
    refs = [BackendRef("s", "dt-ja-1", "1"), BackendRef("s", "dt-jb-1", "2"), BackendRef("s", "dt-jc-1", "3"),
            BackendRef("s", "dt-jd-1", "4")]
    seen = backend.observe(refs)
    running, failed, missing, reused = (seen[r] for r in refs)
    assert (running.phase, running.nodes, running.started_at, running.exit_code) == (
        BackendPhase.RUNNING, ("n1", "n2"), 10.0, None)
    assert (failed.phase, failed.exit_code, failed.failure, failed.finished_at) == (
        BackendPhase.FAILED, 3, FailureKind.USER, 9.0)
    assert missing.phase is BackendPhase.MISSING and reused.phase is BackendPhase.MISSING
    assert "someone-else" in reused.reason
    assert backend.observe([]) == {}


def test_managed_lists_broker_jobs_by_name_or_comment(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    transport.live = [JobRecord(job_id="1", name="dt-ja-2", state="RUNNING"),
                      JobRecord(job_id="2", name="renamed", state="PENDING", comment="dualtrack:jb:1"),
                      JobRecord(job_id="3", name="user-job", state="RUNNING")]
    assert [(m.job_id, m.attempt, m.phase) for m in backend.managed()] == [
        ("ja", 2, BackendPhase.RUNNING), ("jb", 1, BackendPhase.PENDING)]
    assert broker_job_of("dualtrack:ja:2") == ("ja", 2) and broker_job_of("free text") is None


def test_cancel_passes_the_native_id(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    backend.cancel(BackendRef("s", "dt-ja-1", "42"))
    assert transport.cancelled == ["42"]


def test_check_explains_impossible_requests(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    assert backend.check(make_job(resources={"gpusPerWorker": 8}), Placement("slurm-unit")) is None
    transport.test_only_result = TestOnlyResult(error="Requested node configuration is not available")
    reason = backend.check(make_job(resources={"gpusPerWorker": 9, "gpuType": "a100"}), Placement("slurm-unit"))
    assert reason == ("asks 9 a100 GPUs per node but the largest node of partition 'gpu' has 8; "
                      "Slurm: Requested node configuration is not available")
    transport.test_only_result = None  # REST: no --test-only, the snapshot alone decides
    assert backend.check(make_job(resources={"gpuType": "h100"}), Placement("slurm-unit")) == (
        "no node of partition 'gpu' has GPUs of type 'h100'")
    # drained nodes count: they may come back, so 4 workers are not impossible, 5 are
    assert backend.check(make_job(resources={"workers": 4}), Placement("slurm-unit")) is None
    assert "has 4" in (backend.check(make_job(resources={"workers": 5}), Placement("slurm-unit")) or "")
    assert "does not exist" in (backend.check(make_job(), Placement("slurm-unit", pool="nope")) or "")


def test_estimate_start(backend: SlurmBackend, transport: ScriptedTransport) -> None:
    assert backend.estimate_start(make_job(), Placement("slurm-unit")) == 1.0e9
    transport.test_only_result = None
    assert backend.estimate_start(make_job(), Placement("slurm-unit")) is None


def test_rest_v0_0_38_lists_switch_topology_as_unsupported(transport: ScriptedTransport) -> None:
    s = settings(transport="rest", rest={"url": "http://127.0.0.1:1", "token": "t"})
    assert "--switches" in SlurmBackend("r", s, transport).unsupported[Feature.TOPOLOGY_SWITCH]


def test_snapshot_lists_the_sifs_already_converted(transport: ScriptedTransport) -> None:
    transport.files["/images"] = [f"sha256-{'ab' * 32}.sif", f"sha256-{'cd' * 32}.sif.tmp", "notes.txt"]
    sif = SlurmBackend("s", settings(container={"runtime": "sif-bwrap", "imageDir": "/images"}), transport)
    assert sif.snapshot().images == {f"sha256:{'ab' * 32}"}
    assert SlurmBackend("s", settings(), transport).snapshot().images == frozenset()  # runtime none
