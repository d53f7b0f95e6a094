"""Real ultralytics training through the broker on the local Slurm cluster, inside the SIF (docs/yolo.md).

Each test prints its figures (submit-to-SUCCEEDED seconds); run with ``-s`` to see them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dualtrack.broker.checkpoints import CheckpointUnreadable, read_checkpoint
from dualtrack.v1 import broker_pb2 as pb
from tests.integration.kubelet.process_sim import processes_with
from tests.integration.yolo.conftest import SIF_DIR, TERMINAL, YoloBroker, results_rows, yolo_spec

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.timeout(1800)]


def epochs_of(run_dir: Path) -> list[int]:
    return [int(float(row.split(",")[0])) for row in results_rows(run_dir)]


def test_a_tiny_cpu_yolo_job_trains_on_slurm_inside_the_sif(yolo_broker: YoloBroker) -> None:
    started = time.monotonic()
    job = yolo_broker.submit(yolo_spec("yolo-it-2ep", epochs=2))
    done = yolo_broker.wait(job.id, lambda j: j.state in TERMINAL, timeout=1500)
    elapsed = time.monotonic() - started
    output = yolo_broker.slurm_output(done)
    assert done.state == pb.SUCCEEDED, f"{done.reason}\n{output[-3000:]}"
    print(f"\nFIGURE yolo 2-epoch job submit-to-SUCCEEDED: {elapsed:.1f} s (attempt {done.attempt})")

    run_dir = Path(done.output_dir)
    assert run_dir == yolo_broker.checkpoints / "yolo-it" / job.id
    assert (run_dir / "weights" / "last.pt").is_file() and (run_dir / "weights" / "best.pt").is_file()
    assert epochs_of(run_dir) == [1, 2]
    # it ran inside the SIF of the pinned digest: the run dir was /checkpoints/... (a path only the container has)
    digest = done.image_ref.split("@", 1)[1]
    assert (SIF_DIR / f"sha256-{digest.removeprefix('sha256:')}.sif").is_file()
    assert not Path("/checkpoints").exists()
    assert f"/checkpoints/yolo-it/{job.id}" in output and "torch-2.13.0+cpu" in output


def _node_of(broker: YoloBroker, slurm_job_id: str) -> str:
    env = {**os.environ, "SLURM_CONF": broker.slurm["SLURM_CONF"]}
    out = subprocess.run(["squeue", "-h", "-j", slurm_job_id, "-o", "%N"], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out, f"Slurm job {slurm_job_id} has no node"
    return out


def _scontrol(broker: YoloBroker, *args: str) -> None:
    env = {**os.environ, "SLURM_CONF": broker.slurm["SLURM_CONF"]}
    subprocess.run(["scontrol", "update", *args], env=env, check=True, capture_output=True, text=True)


def _return_to_service(broker: YoloBroker, node: str) -> None:
    """Resume the node unless slurmd's re-registration already did (ReturnToService): never leave it down."""
    env = {**os.environ, "SLURM_CONF": broker.slurm["SLURM_CONF"]}
    state = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%T"], env=env, capture_output=True, text=True,
                           check=False).stdout.strip().lower()
    if any(word in state for word in ("down", "drain", "fail")):
        _scontrol(broker, f"nodename={node}", "state=resume")


def _checkpoint_epoch(path: Path) -> int | None:
    try:
        return read_checkpoint(path).epoch if path.is_file() else None
    except CheckpointUnreadable:
        return None  # being written


@pytest.mark.exclusive
def test_a_node_failure_after_epoch_two_resumes_at_epoch_three(yolo_broker: YoloBroker) -> None:
    # 256 px: epochs of seconds, so the poll below sees the checkpoint of epoch 2 before epoch 3 replaces it
    job = yolo_broker.submit(yolo_spec("yolo-it-resume", epochs=5, imgsz=256))
    running = yolo_broker.wait(job.id, lambda j: j.state == pb.RUNNING or j.state in TERMINAL, timeout=600)
    assert running.state == pb.RUNNING, running.reason
    last = Path(running.output_dir) / "weights" / "last.pt"
    deadline = time.monotonic() + 600
    while (_checkpoint_epoch(last) or 0) < 1:  # 0-based: epochs 1 and 2 are done and saved
        assert time.monotonic() < deadline, f"no checkpoint after epoch 2 in {last}"
        assert yolo_broker.get(job.id).state == pb.RUNNING
        time.sleep(0.1)
    # Freeze the attempt where it is (an epoch takes about a second here: it could otherwise finish the run
    # before the node goes down); the node failure then kills the frozen processes.
    frozen = processes_with(f"name={job.id}")
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    node = _node_of(yolo_broker, running.backend_job_id)
    try:
        saved = read_checkpoint(last)
        _scontrol(yolo_broker, f"nodename={node}", "state=down", "reason=dualtrack-yolo-resume-test")
        yolo_broker.wait(job.id, lambda j: j.attempt >= 2 or j.state in TERMINAL, timeout=300)
    finally:
        for pid in frozen:  # ours: never leave a stopped process behind (slurmd should have killed them)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _return_to_service(yolo_broker, node)
    done = yolo_broker.wait(job.id, lambda j: j.state in TERMINAL, timeout=900)
    assert done.state == pb.SUCCEEDED and done.attempt == 2, f"{done.reason}\n{yolo_broker.slurm_output(done)[-3000:]}"

    messages = [e.message for e in yolo_broker.events(job.id)]
    resumed = [m for m in messages if "resuming from epoch" in m]
    # frozen once epoch 2 is saved; on a loaded machine epoch 3 may land before the SIGSTOPs do
    assert saved.next_epoch in (3, 4), f"the node went down after epoch {saved.epoch + 1} was saved"
    assert len(resumed) == 1 and f"resuming from epoch {saved.next_epoch} of 5" in resumed[0], messages
    assert epochs_of(Path(done.output_dir)) == [1, 2, 3, 4, 5]
    output = yolo_broker.slurm_output(done)
    assert "Resuming training" in output and f"from epoch {saved.next_epoch} to 5" in output


def test_bad_data_fails_as_a_user_error_and_is_not_retried(yolo_broker: YoloBroker) -> None:
    job = yolo_broker.submit(yolo_spec("yolo-it-bad-data", epochs=1, data="synthetic/missing.yaml"))
    done = yolo_broker.wait(job.id, lambda j: j.state in TERMINAL, timeout=600)
    assert done.state == pb.FAILED and done.attempt == 1, done.reason
    assert "missing.yaml" in yolo_broker.slurm_output(done)
    time.sleep(3)  # a retry would have moved it back to ACCEPTED by now (interval 1 s, no backoff)
    again = yolo_broker.get(job.id)
    assert (again.state, again.attempt) == (pb.FAILED, 1)
    assert not [e for e in yolo_broker.events(job.id) if "retrying" in e.message]
