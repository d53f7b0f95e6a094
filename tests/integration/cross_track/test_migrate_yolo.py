"""Must show: ``dualtrack migrate <id> --to slurm-yolo`` moves a running YOLO job from the Kubernetes track to
Slurm at its next checkpoint: the Kubernetes attempt is stopped right after a ``last.pt`` newer than the
request, attempt 2 on Slurm resumes from it ("resuming from epoch N"), and the run finishes there with all
its epochs (one ``results.csv`` row each) in the run directory both tracks share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from dualtrack.v1 import broker_pb2 as pb
from tests.integration.cross_track.dual import KUBE, SLURM, TERMINAL, DualTrack, yolo_spec
from tests.integration.kubelet.yolo_env import results_rows
from tests.integration.lifecycle.cluster import REPO

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
EPOCHS = 8  # room for the CLI call on a busy machine: the run must not end before the move


def test_migrate_to_slurm_at_the_next_checkpoint(make_dual: Callable[..., DualTrack]) -> None:
    dual = make_dual()
    job_id = dual.submit(yolo_spec("move-me", epochs=EPOCHS, track="kubernetes"), "move-me")
    run_dir = dual.run_dir(job_id)
    dual.wait(job_id, lambda j: j.state == pb.RUNNING and j.backend == KUBE, 900, "running on Kubernetes")
    dual.wait(job_id, lambda j: len(results_rows(run_dir)) >= 1, 900, "the first epoch on Kubernetes")
    done = subprocess.run([sys.executable, "-m", "dualtrack.broker.cli.main", "migrate", job_id, "--to", SLURM,
                           "--reason", "draining kube-local", "--address", dual.broker.address],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    moved = dual.wait(job_id, lambda j: j.backend == SLURM and j.attempt == 2, 300, "the move to Slurm")
    rows_at_move = len(results_rows(run_dir))  # for the log only: attempt 2 may already have added rows
    final = dual.wait(job_id, lambda j: j.state in TERMINAL, 1200, "the run on Slurm")
    events = dual.events(job_id)
    assert final.state == pb.SUCCEEDED and final.backend == SLURM, (final.reason, events)
    rows = results_rows(run_dir)
    assert [int(float(r.split(",")[0])) for r in rows] == list(range(1, EPOCHS + 1)), rows
    text = "\n".join(events)
    moved_after = re.search(r"migrating from kube-local to slurm-yolo \(draining kube-local\): after its "
                            r"checkpoint of epoch (\d+)", text)
    assert moved_after is not None, text
    epoch = int(moved_after.group(1))  # the checkpoint the Kubernetes attempt was stopped after
    assert epoch < EPOCHS, "the run finished on Kubernetes before the checkpoint after the request"
    resumed = re.search(rf"resuming from epoch (\d+) of {EPOCHS}", text)
    # the next epoch, or one later if the stopped pod wrote another checkpoint before it died
    assert resumed is not None and epoch + 1 <= int(resumed.group(1)) <= EPOCHS, text
    assert dual.sim.sim.kubelet is not None and dual.sim.sim.kubelet.running() == []
    print(f"moved at {rows_at_move} rows; attempt {moved.attempt}; events:\n{text}")
