"""One broker over both tracks for real YOLO training: the local Slurm cluster (runtime sif-bwrap, the SIF
converted from the project's YOLO image) and a Kubernetes API simulator whose node runs pods as processes in
the same image (its OCI layout, found by digest). Both tracks mount the same host folders: the synthetic
dataset at /datasets/synthetic and the checkpoint root at /checkpoints, so a run directory
``/checkpoints/<tenant>/<job id>`` is the same files on both (docs/yolo.md, docs/kubernetes.md).

``DualTrack.start(folder)`` skips (with the missing piece) when the Slurm cluster does not answer, the YOLO
image is not built, its SIF not converted, or bwrap is absent. Jobs are found by broker id; ``stop`` cancels
this broker's unfinished jobs only."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from dualtrack.sim.datasets.yolo_synthetic import write_dataset
from dualtrack.sim.kubeapi.kubelet.config import KubeletConfig
from dualtrack.v1 import broker_pb2 as pb
from tests.integration.kubelet.process_sim import ProcessSim, start_process_sim
from tests.integration.kubelet.yolo_env import ROOTFS_CACHE, layout_digest, yolo_layout
from tests.integration.lifecycle.cluster import REPO, SLURM_SKIP, Broker, Client, free_port, slurm_env

IMAGE = "localhost/dualtrack-yolo:cpu"
SIF_DIR = Path(os.environ.get("DUALTRACK_YOLO_SIF_DIR", "/var/tmp/dualtrack-images/sif"))
SLURM, KUBE = "slurm-yolo", "kube-local"
TENANT = "vision"
TERMINAL = (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED)


def yolo_spec(name: str, *, epochs: int, track: str = "auto", images_note: str = "") -> str:
    """A CPU YOLO job on the synthetic dataset; the same document on both tracks."""
    return yaml.safe_dump({
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name, "tenant": TENANT},
        "spec": {"image": IMAGE, "datasets": ["synthetic"],
                 "yolo": {"model": "yolov8n.yaml", "data": "synthetic/data.yaml", "epochs": epochs, "imgsz": 64,
                          "batch": 8, "workers": 0, "args": {"plots": False}},
                 "resources": {"workers": 1, "gpusPerWorker": 0, "cpusPerWorker": 1, "memoryPerWorker": "4Gi"},
                 "placement": {"track": track}, "timeLimit": "20m", "retry": {"maxAttempts": 3}}})


@dataclass
class DualTrack:
    folder: Path
    sim: ProcessSim
    broker: Broker
    client: Client
    checkpoints: Path
    slurm: dict[str, str]
    digest: str
    submitted: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path, *, reconciler: dict[str, Any] | None = None,
              policies: dict[str, Any] | None = None) -> DualTrack:
        env = slurm_env()
        if env is None:
            pytest.skip(SLURM_SKIP)
        if os.geteuid() != 0 or shutil.which("bwrap") is None:
            pytest.skip("sif-bwrap and the process kubelet need root and bwrap (package bubblewrap)")
        layout = yolo_layout()
        digest = layout_digest(layout)
        if not (SIF_DIR / f"{digest.replace(':', '-')}.sif").exists():
            pytest.skip(f"no SIF of the YOLO image in {SIF_DIR}: scripts/test.sh converts it "
                        "(dualtrack image convert ... -c examples/config/yolo-images.yaml)")
        dataset, checkpoints = folder / "datasets" / "synthetic", folder / "checkpoints"
        write_dataset(dataset, images=32, size=64, seed=1)
        checkpoints.mkdir(parents=True)
        (folder / "kube").mkdir()
        kubelet = KubeletConfig(image_layouts=[layout], image_cache=ROOTFS_CACHE, grace_period_seconds=5,
                                claims={"synthetic": dataset, "checkpoints": checkpoints})
        sim = start_process_sim(folder / "kube", kubelet, nodes=1, gpus=0)
        config = {
            "server": {"address": f"127.0.0.1:{free_port()}", "workers": 1},
            "metrics": {"port": None},
            "store": {"url": f"sqlite:///{folder / 'jobs.sqlite'}"},
            "reconciler": {"intervalSeconds": 1.0, "retryBackoffSeconds": 0, "missingGraceSeconds": 20,
                           "backendDownAfter": 2, **(reconciler or {})},
            "images": {"cacheDir": str(SIF_DIR), "builder": "skopeo-umoci", "workDir": "/var/tmp",
                       "sources": {IMAGE: f"oci:{layout}:latest"}},
            "backends": [
                {"name": SLURM, "kind": "slurm", "settings": {
                    "transport": "cli", "slurmConf": env["SLURM_CONF"], "partition": "gpu",
                    "outputDir": env.get("DUALTRACK_SLURM_OUTPUT_DIR", "/var/tmp/dualtrack-slurm/output"),
                    "commandTimeout": 5,
                    "container": {"runtime": "sif-bwrap", "imageDir": str(SIF_DIR),
                                  "sifRunner": str(REPO / "scripts/images/sif-run")},
                    "datasets": {"synthetic": str(dataset)}, "checkpointRoot": str(checkpoints)}},
                {"name": KUBE, "kind": "volcano", "settings": {
                    "kubeconfig": str(sim.kubeconfig), "requestTimeoutSeconds": 10, "maxRetry": 1,
                    "datasets": {"synthetic": "synthetic"}, "checkpointClaim": "checkpoints",
                    "checkpointRoot": str(checkpoints)}},
            ],
        }
        if policies:
            config["policies"] = policies
        broker = Broker(config, folder)
        try:
            broker.start()
        except Exception:
            sim.sim.stop()
            raise
        return cls(folder, sim, broker, Client([broker.address]), checkpoints, env, digest)

    def submit(self, text: str, key: str) -> str:
        job_id = str(self.client.submit(text, key).job.id)
        self.submitted.append(job_id)
        return job_id

    def wait(self, job_id: str, condition: Callable[[pb.Job], bool], timeout: float, what: str) -> pb.Job:
        deadline = time.monotonic() + timeout
        while True:
            job = self.client.get(job_id)
            if condition(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: job {job_id} is {pb.JobState.Name(job.state)} on {job.backend} "
                                     f"(attempt {job.attempt}: {job.reason})\n{self.broker.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def run_dir(self, job_id: str) -> Path:
        return self.checkpoints / TENANT / job_id

    def events(self, job_id: str) -> list[str]:
        request = pb.WatchJobsRequest(job_id=job_id, since_seq=1)
        stream = self.client.stubs[0].WatchJobs(request, timeout=5)
        out: list[str] = []
        try:
            for event in stream:
                out.append(f"{pb.JobState.Name(event.state)} {event.backend} #{event.attempt}: {event.message}")
        except Exception:  # the stream ends at its time-out once the history is read
            pass
        return out

    def stop(self) -> None:
        for job_id in self.submitted:
            try:
                if self.client.get(job_id).state not in TERMINAL:
                    self.client.cancel(job_id)
            except Exception:
                pass
        self.client.close()
        self.broker.stop()
        self.sim.sim.stop()
