"""Real YOLO training on the local Slurm cluster, inside the SIF of the project's own image (docs/yolo.md).

Needs: the cluster of scripts/slurm/start.sh, root and bwrap (runtime sif-bwrap), the image built by
scripts/images/build-yolo.sh (CI builds it before the tests; a cache hit takes a second). The SIF is converted
once per image digest by the broker's own image service into ``DUALTRACK_YOLO_SIF_DIR`` (default
/var/tmp/dualtrack-images/sif), which persists between runs. Each test skips with the missing piece's name.

``yolo_broker`` starts ``dualtrack serve`` on a free port with one Slurm backend: datasets map
``synthetic`` -> a synthetic dataset written for the session, checkpointRoot -> a fresh folder. Jobs are
found by their broker id, never by the queue's contents; the session cancels only its own jobs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from dualtrack.sim.datasets.yolo_synthetic import write_dataset
from dualtrack.v1 import broker_pb2 as pb
from dualtrack.v1 import broker_pb2_grpc as pb_grpc
from tests.e2e.conftest import BrokerProcess, free_port

REPO = Path(__file__).resolve().parents[3]
SLURM_DIR = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm"))
IMAGE_CACHE = Path(os.environ.get("DUALTRACK_YOLO_IMAGE_CACHE", "/var/tmp/dualtrack-images/yolo"))
SIF_DIR = Path(os.environ.get("DUALTRACK_YOLO_SIF_DIR", "/var/tmp/dualtrack-images/sif"))
WORK_ROOT = Path(os.environ.get("DUALTRACK_YOLO_WORK", "/var/tmp/dualtrack-yolo-it"))
IMAGE = "localhost/dualtrack-yolo:cpu"
TERMINAL = {pb.SUCCEEDED, pb.FAILED, pb.CANCELLED}

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def slurm_env() -> dict[str, str]:
    env_file = SLURM_DIR / "env"
    if not env_file.is_file():
        pytest.skip(f"no local Slurm cluster: {env_file} is missing (run scripts/slurm/start.sh)")
    env = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            env[key.strip()] = value.strip().strip("'\"")
    ping = subprocess.run(["scontrol", "ping"], env={**os.environ, "SLURM_CONF": env["SLURM_CONF"]},
                          capture_output=True, text=True, check=False)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.skip(f"the local Slurm controller does not answer (scontrol ping: {ping.stdout.strip()})")
    return env


@pytest.fixture(scope="session")
def yolo_layout() -> str:
    """The OCI layout of the YOLO image, built by scripts/images/build-yolo.sh (a cache hit here)."""
    if os.geteuid() != 0 or shutil.which("bwrap") is None:
        pytest.skip("the sif-bwrap runtime needs root and bwrap (package bubblewrap)")
    if not (IMAGE_CACHE / "current" / "done").exists():
        pytest.skip(f"no YOLO image in {IMAGE_CACHE}: run scripts/images/build-yolo.sh (CI does)")
    built = subprocess.run([str(REPO / "scripts/images/build-yolo.sh")], capture_output=True, text=True,
                           check=False, timeout=60)
    if built.returncode != 0:
        pytest.skip(f"the YOLO image is not built for the current inputs: {built.stderr.strip()[-300:]}")
    return built.stdout.strip()


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    path = WORK_ROOT / uuid.uuid4().hex[:10]
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def synthetic_dataset(session_dir: Path) -> Path:
    """32 train images of 64x64 px: an epoch takes seconds on one core, long enough to stop a run between."""
    root = session_dir / "datasets" / "synthetic"
    write_dataset(root, images=32, size=64, seed=1)
    return root


def broker_config(env: dict[str, str], layout: str, dataset: Path, checkpoints: Path, port: int,
                  store: Path) -> dict[str, Any]:
    return {
        "server": {"address": f"127.0.0.1:{port}"},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{store}"},
        "reconciler": {"intervalSeconds": 1.0, "retryBackoffSeconds": 0},
        "images": {"cacheDir": str(SIF_DIR), "builder": "skopeo-umoci", "workDir": "/var/tmp",
                   "sources": {IMAGE: layout}},
        "backends": [{
            "name": "slurm-yolo", "kind": "slurm",
            "settings": {
                "transport": "cli", "slurmConf": env["SLURM_CONF"],
                "partition": env.get("DUALTRACK_SLURM_PARTITION", "gpu"),
                "outputDir": env["DUALTRACK_SLURM_OUTPUT_DIR"],
                "container": {"runtime": "sif-bwrap", "imageDir": str(SIF_DIR),
                              "sifRunner": str(REPO / "scripts/images/sif-run")},
                "datasets": {"synthetic": str(dataset)},
                "checkpointRoot": str(checkpoints),
            },
        }],
    }


@dataclass
class YoloBroker:
    process: BrokerProcess
    stub: pb_grpc.BrokerStub
    checkpoints: Path
    slurm: dict[str, str]

    def submit(self, spec_yaml: str) -> pb.Job:
        return self.stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_yaml), timeout=30).job

    def get(self, job_id: str) -> pb.Job:
        return self.stub.GetJob(pb.GetJobRequest(id=job_id), timeout=30)

    def wait(self, job_id: str, until: Any, timeout: float) -> pb.Job:
        """Poll GetJob until ``until(job)``; fails with the job and the broker log's tail after ``timeout``."""
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while not until(job):
            if time.monotonic() > deadline:
                log = self.process.log.read_text()[-3000:]
                pytest.fail(f"job {job_id} is {pb.JobState.Name(job.state)} (attempt {job.attempt}, "
                            f"{job.reason}) after {timeout:.0f}s\n{log}")
            time.sleep(0.5)
            job = self.get(job_id)
        return job

    def events(self, job_id: str) -> list[pb.JobEvent]:
        request = pb.WatchJobsRequest(job_id=job_id, follow_until_terminal=True)
        return list(self.stub.WatchJobs(request, timeout=30))

    def slurm_output(self, job: pb.Job) -> str:
        path = Path(self.slurm["DUALTRACK_SLURM_OUTPUT_DIR"]) / f"slurm-{job.backend_job_id}.out"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="session")
def yolo_broker(yolo_layout: str, synthetic_dataset: Path, session_dir: Path) -> Iterator[YoloBroker]:
    env = slurm_env()
    checkpoints = session_dir / "checkpoints"
    checkpoints.mkdir()
    port = free_port()
    config = session_dir / "broker.yaml"
    config.write_text(yaml.safe_dump(broker_config(env, yolo_layout, synthetic_dataset, checkpoints, port,
                                                   session_dir / "jobs.sqlite")))
    process = BrokerProcess(f"127.0.0.1:{port}", config, session_dir / "broker.log")
    process.start()
    channel = grpc.insecure_channel(process.address)
    broker = YoloBroker(process, pb_grpc.BrokerStub(channel), checkpoints, env)
    submitted: list[str] = []
    original = broker.submit

    def tracked(spec_yaml: str) -> pb.Job:
        job = original(spec_yaml)
        submitted.append(job.id)
        return job

    broker.submit = tracked  # type: ignore[method-assign]
    try:
        yield broker
    finally:
        for job_id in submitted:  # cancel only this session's jobs that are still going
            try:
                if broker.get(job_id).state not in TERMINAL:
                    broker.stub.CancelJob(pb.CancelJobRequest(id=job_id), timeout=30)
            except grpc.RpcError:
                pass
        channel.close()
        process.stop()
        print(f"broker log: {process.log}", file=sys.stderr)


def yolo_spec(name: str, *, epochs: int, data: str = "synthetic/data.yaml", max_attempts: int = 3,
              imgsz: int = 64) -> str:
    """A tiny CPU YOLO job on the synthetic dataset (yolov8n from its YAML: nothing is downloaded); a larger
    ``imgsz`` makes each epoch take longer (seconds instead of a fraction of one)."""
    return yaml.safe_dump({
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name, "tenant": "yolo-it"},
        "spec": {
            "image": IMAGE,
            "yolo": {"model": "yolov8n.yaml", "data": data, "epochs": epochs, "imgsz": imgsz, "batch": 8,
                     "workers": 0, "args": {"plots": False, "val": True}},
            "resources": {"workers": 1, "gpusPerWorker": 0, "cpusPerWorker": 1, "memoryPerWorker": "4Gi"},
            "datasets": ["synthetic"],
            "placement": {"track": "slurm"},
            "timeLimit": "20m",
            "retry": {"maxAttempts": max_attempts},
        },
    })


def results_rows(run_dir: Path) -> list[str]:
    path = run_dir / "results.csv"
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines()[1:] if line.strip()]
