"""What the real-YOLO tests on the Kubernetes track share: the project's YOLO image as a local OCI layout
(built by ``scripts/images/build-yolo.sh``, cached by input hash), the root filesystem cache of the process
kubelet (unpacked once per digest per machine), a synthetic dataset, and a spec.

Skips with the command to run when the image has not been built on this machine."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from dualtrack.sim.datasets.yolo_synthetic import write_dataset

IMAGE = "localhost/dualtrack-yolo:latest"
IMAGE_CACHE = Path(os.environ.get("DUALTRACK_YOLO_IMAGE_CACHE", "/var/tmp/dualtrack-images/yolo"))
ROOTFS_CACHE = Path(os.environ.get("DUALTRACK_KUBELET_ROOTFS", "/var/tmp/dualtrack-kubesim/rootfs"))
DATASET = "synth"


def yolo_layout() -> Path:
    """The newest built YOLO image layout; skips when there is none."""
    current = IMAGE_CACHE / "current"
    if not (current / "done").exists() or not (current / "layout" / "index.json").exists():
        pytest.skip(f"the YOLO image is not built on this machine: run scripts/images/build-yolo.sh "
                    f"(cache {IMAGE_CACHE})")
    return (current / "layout").resolve()


def layout_digest(layout: Path) -> str:
    index = json.loads((layout / "index.json").read_text())
    return str(index["manifests"][0]["digest"])


def make_dataset(root: Path) -> Path:
    """``root/<DATASET>`` with 8 training and a few validation images of 64 px."""
    folder = root / DATASET
    write_dataset(folder, images=8, size=64)
    return folder


def yolo_spec(name: str, *, epochs: int, track: str = "kubernetes", extra: dict[str, Any] | None = None) -> str:
    """A CPU YOLO training job on the synthetic dataset (yolov8n from its yaml: no weights download)."""
    spec: dict[str, Any] = {
        "image": IMAGE, "datasets": [DATASET],
        "yolo": {"task": "detect", "model": "yolov8n.yaml", "data": f"{DATASET}/data.yaml", "epochs": epochs,
                 "imgsz": 64, "batch": 4, "workers": 0},
        "resources": {"workers": 1, "gpusPerWorker": 0, "cpusPerWorker": 2, "memoryPerWorker": "4Gi"},
        "placement": {"track": track}, "timeLimit": "30m", **(extra or {})}
    return yaml.safe_dump({"apiVersion": "dualtrack/v1", "kind": "TrainingJob",
                           "metadata": {"name": name, "tenant": "vision"}, "spec": spec})


def results_rows(run_dir: Path) -> list[str]:
    """The epoch rows of ultralytics' results.csv ([] when absent)."""
    try:
        lines = (run_dir / "results.csv").read_text().splitlines()
    except OSError:
        return []
    return [line for line in lines[1:] if line.strip()]
