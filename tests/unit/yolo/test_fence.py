"""The attempt fence (docs/yolo.md#fence): the broker's side (``write_fence``) and the job's side, a
``sitecustomize`` run by a real Python child process with the environment the adapters render."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dualtrack.broker.checkpoints import write_fence
from dualtrack.broker.domain import Job, parse_spec
from dualtrack.broker.domain.launch import attempt_env
from dualtrack.broker.jobside.fence import FENCED_EXIT

TENANT, JOB_ID = "qa", "j0fence"


class Holder:
    """A backend double with only the checkpoint capability; the checkpoint root is the container's /checkpoints
    (the test's processes run on the host, so the env's /checkpoints paths are rewritten to the root)."""

    name = "slurm-unit"

    def __init__(self, root: Path):
        self.checkpoint_root = str(root)


def yolo_job(attempt: int, resume: bool = False, env: dict[str, str] | None = None) -> Job:
    doc = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "fence", "tenant": TENANT},
           "spec": {"image": "localhost/yolo:cpu", "env": env or {},
                    "yolo": {"model": "yolov8n.yaml", "data": "coco8.yaml", "epochs": 5},
                    "resources": {"gpusPerWorker": 0}}}
    resume_from = f"/checkpoints/{TENANT}/{JOB_ID}/weights/last.pt" if resume else None
    return Job(id=JOB_ID, spec=parse_spec(doc), attempt=attempt, resume_from=resume_from)


def run_attempt(root: Path, job: Job, program: str) -> subprocess.CompletedProcess[str]:
    """Run ``program`` as the job's Python would start: the adapters' environment, paths moved under ``root``."""
    env = {key: value.replace("/checkpoints", str(root)) for key, value in attempt_env(job).items()}
    return subprocess.run([sys.executable, "-c", program], env={"PATH": os.environ["PATH"], **env},
                          capture_output=True, text=True, timeout=60)


def run_dir(root: Path) -> Path:
    return root / TENANT / JOB_ID


def checkpoint(root: Path, epoch: int) -> None:
    """A torch-style zip whose data.pkl holds what ultralytics' last.pt holds (epoch is 0-based)."""
    path = run_dir(root) / "weights" / "last.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("last/data.pkl", pickle.dumps({"epoch": epoch, "optimizer": {}, "train_args": {"epochs": 5}}))


def results(root: Path, epochs: list[int]) -> Path:
    path = run_dir(root) / "results.csv"
    path.write_text("epoch,time,loss\n" + "".join(f"{e},{e * 1.5},0.{e}\n" for e in epochs))
    return path


def test_the_current_attempt_runs_and_writes_its_run_folder(tmp_path: Path) -> None:
    assert write_fence(yolo_job(1), Holder(tmp_path)) is None
    done = run_attempt(tmp_path, yolo_job(1), f"open({str(run_dir(tmp_path) / 'results.csv')!r}, 'a').write('1\\n')")
    assert done.returncode == 0, done.stderr
    assert (run_dir(tmp_path) / "results.csv").read_text() == "1\n"


def test_a_replaced_attempt_exits_at_start_before_its_program_runs(tmp_path: Path) -> None:
    write_fence(yolo_job(2), Holder(tmp_path))
    done = run_attempt(tmp_path, yolo_job(1), "print('training')")
    assert done.returncode == FENCED_EXIT
    assert "training" not in done.stdout
    assert "attempt 1 stops: attempt 2 has taken over" in done.stderr


def test_a_running_attempt_stops_at_its_next_write_once_replaced(tmp_path: Path) -> None:
    """The program writes one row, then the broker fences attempt 2, then the program tries a second row, a
    checkpoint through os.open and a file outside the run folder: it exits before the second row."""
    write_fence(yolo_job(1), Holder(tmp_path))
    folder, outside = run_dir(tmp_path), tmp_path / "outside.txt"
    fence_file = folder / ".dualtrack" / "attempt"
    program = "\n".join([
        "import os",
        f"open({str(folder / 'results.csv')!r}, 'a').write('1\\n')",
        f"open({str(outside)!r}, 'w').write('still allowed')",
        f"open({str(fence_file)!r} + '.new', 'w').write('2\\n'); os.replace({str(fence_file)!r} + '.new', "
        f"{str(fence_file)!r})",
        f"open({str(outside)!r}, 'a').write(', and still')",
        f"os.open({str(folder / 'weights.bin')!r}, os.O_WRONLY | os.O_CREAT)",
        f"open({str(folder / 'results.csv')!r}, 'a').write('2\\n')",
    ])
    done = run_attempt(tmp_path, yolo_job(1), program)
    assert done.returncode == FENCED_EXIT, done.stderr
    assert (folder / "results.csv").read_text() == "1\n"
    assert not (folder / "weights.bin").exists()
    assert outside.read_text() == "still allowed, and still"


def test_reading_the_run_folder_is_never_fenced(tmp_path: Path) -> None:
    write_fence(yolo_job(3), Holder(tmp_path))
    results(tmp_path, [1])
    done = run_attempt(tmp_path, yolo_job(3), "import os\n"
                       f"open({str(tmp_path / TENANT / JOB_ID / '.dualtrack' / 'attempt')!r}, 'w').write('4')\n"
                       f"print(open({str(run_dir(tmp_path) / 'results.csv')!r}).read().count(chr(10)))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"


def test_a_resuming_attempt_drops_the_rows_after_its_checkpoint_once(tmp_path: Path) -> None:
    """Attempt 1 logged epoch 3 but was stopped before it saved last.pt (epoch index 1 = epochs 1..2 done)."""
    write_fence(yolo_job(2, resume=True), Holder(tmp_path))
    checkpoint(tmp_path, epoch=1)
    csv = results(tmp_path, [1, 2, 3])
    done = run_attempt(tmp_path, yolo_job(2, resume=True), "")
    assert done.returncode == 0, done.stderr
    assert [line.split(",")[0] for line in csv.read_text().splitlines()] == ["epoch", "1", "2"]
    assert "dropped 1 row(s)" in done.stderr
    results(tmp_path, [1, 2, 3])  # rows the attempt itself adds later are never dropped again
    assert run_attempt(tmp_path, yolo_job(2, resume=True), "").returncode == 0
    assert [line.split(",")[0] for line in csv.read_text().splitlines()] == ["epoch", "1", "2", "3"]


def test_an_attempt_that_does_not_resume_keeps_every_row(tmp_path: Path) -> None:
    write_fence(yolo_job(2), Holder(tmp_path))
    checkpoint(tmp_path, epoch=0)
    csv = results(tmp_path, [1, 2, 3])
    assert run_attempt(tmp_path, yolo_job(2), "").returncode == 0
    assert len(csv.read_text().splitlines()) == 4


def test_the_shadowed_sitecustomize_still_loads(tmp_path: Path) -> None:
    write_fence(yolo_job(1), Holder(tmp_path))
    other = tmp_path / "site"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import builtins\nbuiltins.SHADOWED = 'loaded'\n")
    job = yolo_job(1, env={"PYTHONPATH": "/checkpoints/site"})
    done = run_attempt(tmp_path, job, "print(SHADOWED)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "loaded"


def test_the_fence_is_never_lowered_and_folders_take_the_roots_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o1777)
    assert write_fence(yolo_job(3), Holder(tmp_path)) is None
    assert write_fence(yolo_job(2), Holder(tmp_path)) is None
    fence = run_dir(tmp_path) / ".dualtrack"
    assert (fence / "attempt").read_text().strip() == "3"
    assert (fence / "sitecustomize.py").read_text().startswith('"""The attempt fence')
    for folder in (tmp_path / TENANT, run_dir(tmp_path), fence):
        assert folder.stat().st_mode & 0o7777 == 0o1777, folder


def test_no_fence_where_the_broker_cannot_see_the_run(tmp_path: Path) -> None:
    assert write_fence(yolo_job(1), Holder(tmp_path / "absent")) == (
        f"its checkpoint root {tmp_path / 'absent'} is not visible to the broker")
    command = Job(id="j0cmd", attempt=1, spec=parse_spec({
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "c", "tenant": TENANT},
        "spec": {"image": "busybox", "command": ["true"], "resources": {"gpusPerWorker": 0}}}))
    assert write_fence(command, Holder(tmp_path)) == "no run folder under a checkpoint root of this backend"
    assert "PYTHONPATH" not in attempt_env(command)


@pytest.mark.parametrize("user_path", [None, "/opt/lib"])
def test_the_fence_folder_comes_first_on_pythonpath(user_path: str | None) -> None:
    env = attempt_env(yolo_job(2, env={"PYTHONPATH": user_path} if user_path else None))
    expected = f"/checkpoints/{TENANT}/{JOB_ID}/.dualtrack" + (f":{user_path}" if user_path else "")
    assert env["PYTHONPATH"] == expected
    assert env["DUALTRACK_ATTEMPT"] == "2" and env["DUALTRACK_RUN_DIR"] == f"/checkpoints/{TENANT}/{JOB_ID}"
