"""The CLI against a running broker: validate, submit, get, list, watch, cancel, backends, explain."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import REPO, BrokerProcess

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))

THREE_MISTAKES = """\
apiVersion: dualtrack/v1
kind: TrainingJob
metadata: {name: Weld_Job}
spec:
  image: ultralytics/ultralytics:8.3.40
  yolo: {model: yolov8n.pt, data: coco8.yaml}
  resources: {workers: 0, gpusPerWroker: 2}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_validate_accepts_every_example(broker: BrokerProcess) -> None:
    result = broker.cli("validate", *map(str, EXAMPLES), check=True)
    assert result.stdout.count(": valid") == len(EXAMPLES)


def test_validate_prints_each_mistake_with_its_field_path(broker: BrokerProcess, tmp_path: Path) -> None:
    result = broker.cli("validate", str(write(tmp_path, "bad.yaml", THREE_MISTAKES)))
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("- ")]
    assert len(lines) == 3, result.stderr
    assert lines[0].startswith("- metadata.name: name 'Weld_Job' is not a DNS-1123 label")
    assert lines[1] == "- spec.resources.workers: must be >= 1"
    assert lines[2] == "- spec.resources.gpusPerWroker: unknown field"


def test_submit_invalid_spec_is_refused_by_the_server_with_field_paths(broker: BrokerProcess, tmp_path: Path) -> None:
    result = broker.cli("submit", str(write(tmp_path, "bad.yaml", THREE_MISTAKES)))
    assert result.returncode == 2
    assert "INVALID_ARGUMENT" in result.stderr
    assert "spec.resources.gpusPerWroker: unknown field" in result.stderr
    listed = json.loads(broker.cli("list", "-o", "json", check=True).stdout)
    assert listed == []  # nothing half-accepted


def test_submit_follow_reaches_succeeded_and_get_shows_where_and_why(broker: BrokerProcess) -> None:
    result = broker.cli("submit", str(REPO / "examples/yolo-8gpu-node.yaml"), "--follow", check=True)
    job_id = result.stdout.split()[1]
    states = [line.split()[4] for line in result.stdout.splitlines() if line.startswith("20")]
    assert states == ["ACCEPTED", "PLACED", "SUBMITTED", "RUNNING", "SUCCEEDED"]
    job = json.loads(broker.cli("get", job_id, "-o", "json", check=True).stdout)
    assert job["state"] == "SUCCEEDED" and job["backend"] == "slurm-a" and job["track"] == "slurm"
    # 8 GPUs on one node: only slurm-a has such a node; the explanation says why kube-a was filtered out
    candidates = {c["backend"]: c for c in job["explanation"]["candidates"]}
    assert candidates["kube-a"]["status"] == "UNSCHEDULABLE" or candidates["kube-a"]["status"] == "UNRESOLVABLE"
    assert job["explanation"]["winner"] == "slurm-a"
    table = broker.cli("get", job_id, check=True).stdout
    assert "SUCCEEDED" in table and "slurm-a" in table


def test_list_filters_by_state_and_tenant(broker: BrokerProcess) -> None:
    first = broker.cli("submit", str(REPO / "examples/yolo-1gpu.yaml"), "-o", "json", check=True)
    job_id = json.loads(first.stdout)["job"]["id"]
    broker.cli("wait", job_id, "--timeout", "30", check=True)
    done = json.loads(broker.cli("list", "--state", "SUCCEEDED", "-o", "json", check=True).stdout)
    assert [j["id"] for j in done] == [job_id]
    assert json.loads(broker.cli("list", "--tenant", "nobody", "-o", "json", check=True).stdout) == []
    assert broker.cli("list", "--state", "BOGUS").returncode == 2


def test_cancel_a_running_job(make_broker) -> None:  # type: ignore[no-untyped-def]
    slow = make_broker(run_seconds=120)
    job_id = json.loads(slow.cli("submit", str(REPO / "examples/yolo-1gpu.yaml"), "-o", "json",
                                 check=True).stdout)["job"]["id"]
    for _ in range(100):
        if json.loads(slow.cli("get", job_id, "-o", "json", check=True).stdout)["state"] == "RUNNING":
            break
    result = slow.cli("cancel", job_id, "--reason", "wrong dataset", check=True)
    assert "CANCELLED" in result.stdout
    job = json.loads(slow.cli("get", job_id, "-o", "json", check=True).stdout)
    assert job["state"] == "CANCELLED" and "wrong dataset" in job["reason"]
    assert slow.cli("wait", job_id, "--timeout", "5").returncode == 1  # ended, but not succeeded


def test_watch_streams_every_event_of_a_job(broker: BrokerProcess) -> None:
    job_id = json.loads(broker.cli("submit", str(REPO / "examples/yolo-1gpu.yaml"), "-o", "json",
                                   check=True).stdout)["job"]["id"]
    watched = broker.cli("watch", job_id, check=True, timeout=60).stdout
    assert watched.splitlines()[-1].split()[4] == "SUCCEEDED"
    assert all(job_id in line for line in watched.splitlines())


def test_impossible_job_is_refused_with_each_backends_reason(broker: BrokerProcess, tmp_path: Path) -> None:
    text = (REPO / "examples/yolo-1gpu.yaml").read_text().replace("gpusPerWorker: 1", "gpusPerWorker: 9")
    result = broker.cli("submit", str(write(tmp_path, "huge.yaml", text)))
    assert result.returncode == 1
    assert "FAILED_PRECONDITION" in result.stderr
    assert "slurm-a" in result.stderr and "kube-a" in result.stderr


def test_unknown_job_is_not_found(broker: BrokerProcess) -> None:
    result = broker.cli("get", "jdoesnotexist")
    assert result.returncode == 1 and "NOT_FOUND" in result.stderr


def test_backends_and_explain(broker: BrokerProcess) -> None:
    backends = json.loads(broker.cli("backends", "-o", "json", check=True).stdout)
    by_name = {b["name"]: b for b in backends}
    assert by_name["slurm-a"]["gpus_total"] == 32 and by_name["kube-a"]["gpus_total"] == 8
    assert by_name["kube-a"]["track"] == "kubernetes" and by_name["slurm-a"]["healthy"]
    explained = broker.cli("explain", str(REPO / "examples/yolo-8gpu-node.yaml"), check=True).stdout
    assert "slurm-a" in explained and "kube-a" in explained and "OK -> slurm-a" in explained
    assert json.loads(broker.cli("list", "-o", "json", check=True).stdout) == []  # explain stores nothing


def test_unreachable_broker_is_a_clear_error(broker: BrokerProcess) -> None:
    result = broker.cli("list", "--address", "127.0.0.1:1")
    assert result.returncode == 3
    assert "cannot reach the broker" in result.stderr
