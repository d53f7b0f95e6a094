"""``dualtrack import``: print the spec (warnings on stderr), -o json, --submit to a running broker."""

from __future__ import annotations

import json

import yaml

from dualtrack.broker.domain import parse_spec
from tests.e2e.conftest import REPO, BrokerProcess

SEED = REPO / "tests/fixtures/importers"


def test_import_prints_a_valid_spec_and_warns_on_stderr(broker: BrokerProcess) -> None:
    result = broker.cli("import", str(SEED / "seed-sbatch-command.txt"), check=True)
    spec = parse_spec(yaml.safe_load(result.stdout))
    assert spec.metadata.name == "yolov8-train"
    assert "warning: spec.image:" in result.stderr and "warning: #SBATCH --partition:" in result.stderr
    as_json = json.loads(broker.cli("import", str(SEED / "seed-vcjob.yaml"), "-o", "json", check=True).stdout)
    assert as_json["source"] == "volcano" and as_json["spec"]["spec"]["resources"]["workers"] == 4
    assert {w["field"] for w in as_json["warnings"]} >= {"spec.yolo"}  # four workers: kept as a command


def test_import_submit_stores_the_job(broker: BrokerProcess) -> None:
    result = broker.cli("import", str(SEED / "seed-vcjob.yaml"), "--submit", "--tenant", "vision-qa",
                        "-o", "json", check=True)
    job = json.loads(result.stdout)["job"]
    stored = json.loads(broker.cli("get", job["id"], "-o", "json", check=True).stdout)
    assert stored["tenant"] == "vision-qa" and stored["name"] == "yolov5-training-job"


def test_a_file_that_is_neither_is_refused(broker: BrokerProcess) -> None:
    result = broker.cli("import", str(REPO / "examples/yolo-1gpu.yaml"))
    assert result.returncode == 2 and "no Volcano Job" in result.stderr
