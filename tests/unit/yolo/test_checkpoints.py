"""Run directories, reading ultralytics checkpoints without torch, and when a new attempt resumes."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from dualtrack.broker.checkpoints import CheckpointUnreadable, output_dir, read_checkpoint, resume_point
from dualtrack.broker.domain import Job, parse_spec
from dualtrack.broker.domain.launch import job_argv

torch: Any = pytest.importorskip("torch", reason="torch writes the test checkpoints (pip install -e '.[yolo]')")


class Holder:
    """A backend double with only the checkpoint capability."""

    name = "slurm-unit"

    def __init__(self, root: Path | None):
        self.checkpoint_root = str(root) if root else None


def yolo_job(attempt: int = 2, **yolo: Any) -> Job:
    doc = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "ck", "tenant": "qa"},
           "spec": {"image": "localhost/yolo:cpu", "yolo": {"model": "yolov8n.yaml", "data": "coco8.yaml", **yolo},
                    "resources": {"gpusPerWorker": 0}}}
    return Job(id="j0ckpt", spec=parse_spec(doc), attempt=attempt)


def save(path: Path, epoch: int, epochs: int, optimizer: bool) -> Path:
    """A checkpoint shaped as ultralytics saves one (tensors inside, optimizer state unless finished)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epoch, "best_fitness": 0.1, "model": torch.nn.Linear(2, 2),
                "optimizer": {"state": {0: torch.zeros(3)}} if optimizer else None,
                "train_args": {"epochs": epochs, "data": "/datasets/x/data.yaml"}, "date": "2026-12-02"}, path)
    return path


def test_reads_epoch_and_whether_it_resumes(tmp_path: Path) -> None:
    info = read_checkpoint(save(tmp_path / "a.pt", epoch=1, epochs=5, optimizer=True))
    assert (info.epoch, info.epochs, info.has_optimizer, info.resumable, info.next_epoch) == (1, 5, True, True, 3)
    finished = read_checkpoint(save(tmp_path / "b.pt", epoch=-1, epochs=5, optimizer=False))
    assert not finished.resumable
    last_epoch = read_checkpoint(save(tmp_path / "c.pt", epoch=4, epochs=5, optimizer=True))
    assert not last_epoch.resumable  # ultralytics: "training to 5 epochs is finished, nothing to resume"


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "text.pt").write_text("not a zip")
    with pytest.raises(CheckpointUnreadable):
        read_checkpoint(tmp_path / "text.pt")
    with zipfile.ZipFile(tmp_path / "empty.pt", "w") as archive:
        archive.writestr("x/readme", "no pickle")
    with pytest.raises(CheckpointUnreadable):
        read_checkpoint(tmp_path / "empty.pt")
    torch.save({"no": "epoch"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointUnreadable):
        read_checkpoint(tmp_path / "other.pt")


def test_the_reader_runs_no_code_of_the_checkpoint(tmp_path: Path) -> None:
    torch.save({"epoch": 0, "optimizer": {}, "x": Path("/etc/passwd"), "train_args": {"epochs": 3}}, tmp_path / "p.pt")
    info = read_checkpoint(tmp_path / "p.pt")
    assert info.resumable


def test_output_dir_is_the_run_dir_under_the_backend_root(tmp_path: Path) -> None:
    assert output_dir(yolo_job(), Holder(tmp_path)) == f"{tmp_path}/qa/j0ckpt"  # type: ignore[arg-type]
    assert output_dir(yolo_job(), Holder(None)) is None  # type: ignore[arg-type]
    assert output_dir(yolo_job(), None) is None
    own = yolo_job(project="/checkpoints/team", name="run7")
    assert output_dir(own, Holder(tmp_path)) == f"{tmp_path}/team/run7"  # type: ignore[arg-type]
    outside = yolo_job(project="/scratch/team", name="run7")
    assert output_dir(outside, Holder(tmp_path)) is None  # type: ignore[arg-type]


def test_a_new_attempt_resumes_only_an_unfinished_run(tmp_path: Path) -> None:
    job, holder = yolo_job(), Holder(tmp_path)
    point, why = resume_point(job, holder)  # type: ignore[arg-type]
    assert point is None and why.startswith("no checkpoint at")
    save(tmp_path / "qa" / "j0ckpt" / "weights" / "last.pt", epoch=1, epochs=5, optimizer=True)
    point, why = resume_point(job, holder)  # type: ignore[arg-type]
    assert point is not None and point.container_path == "/checkpoints/qa/j0ckpt/weights/last.pt"
    assert why.startswith("resuming from epoch 3 of 5")
    argv = job_argv(job.evolve(resume_from=point.container_path))
    assert "resume=/checkpoints/qa/j0ckpt/weights/last.pt" in argv
    save(tmp_path / "qa" / "j0ckpt" / "weights" / "last.pt", epoch=-1, epochs=5, optimizer=False)
    point, why = resume_point(job, holder)  # type: ignore[arg-type]
    assert point is None and "finished run" in why
