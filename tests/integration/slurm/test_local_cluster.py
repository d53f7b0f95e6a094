"""The "Must show" list of issue 3 through the adapter, on the real local cluster (JSON CLI transport)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.slurm import SlurmBackend, from_config
from dualtrack.broker.domain import BackendPhase, FailureKind, SpecError, parse_spec

from .conftest import (
    REPO,
    TERMINAL,
    cli_settings,
    command_job,
    output_of,
    placement,
    wait_for,
)

pytestmark = pytest.mark.slurm

REPORT_GPUS = 'echo "rank=$NODE_RANK of=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT gpus=$CUDA_VISIBLE_DEVICES"'


def gpu_lines(text: str) -> dict[str, str]:
    """rank -> CUDA_VISIBLE_DEVICES from the REPORT_GPUS lines of a job's output."""
    out = {}
    for line in text.splitlines():
        if line.startswith("rank="):
            fields = dict(part.split("=", 1) for part in line.split())
            out[fields["rank"]] = fields["gpus"]
    return out


def test_eight_gpu_one_node_job_succeeds_and_sees_eight_gpus(backend: SlurmBackend, slurm_env: dict[str, str]) -> None:
    job = command_job(["bash", "-c", REPORT_GPUS], resources={"workers": 1, "gpusPerWorker": 8, "gpuType": "a100",
                                                              "memoryPerWorker": "1Gi"})
    ref = backend.submit(job, placement())
    seen = wait_for(backend, ref, TERMINAL)
    assert (seen.phase, seen.exit_code) == (BackendPhase.SUCCEEDED, 0), seen
    assert gpu_lines(output_of(slurm_env, ref)) == {"0": "0,1,2,3,4,5,6,7"}


def test_two_nodes_by_four_gpus_in_one_switch(backend: SlurmBackend, slurm_env: dict[str, str]) -> None:
    job = command_job(["bash", "-c", REPORT_GPUS], resources={"workers": 2, "gpusPerWorker": 4, "gpuType": "a100",
                                                              "memoryPerWorker": "1Gi"},
                      topology={"tier": "switch", "mode": "hard"})
    ref = backend.submit(job, placement())
    seen = wait_for(backend, ref, TERMINAL)
    assert seen.phase is BackendPhase.SUCCEEDED, seen
    # four distinct GPUs on each node; which four depends on what other tests' jobs hold there meanwhile
    lines = gpu_lines(output_of(slurm_env, ref))
    assert set(lines) == {"0", "1"}, lines
    for gpus in lines.values():
        indices = gpus.split(",")
        assert len(set(indices)) == 4 and set(indices) <= {str(i) for i in range(8)}, lines
    assert set(seen.nodes) in ({"n1", "n2"}, {"n3", "n4"})  # --switches=1: both nodes under one leaf
    assert f"master={seen.nodes[0]}:29500" in output_of(slurm_env, ref)


def test_nine_gpus_per_node_is_impossible_before_submitting(backend: SlurmBackend) -> None:
    job = command_job(["true"], resources={"gpusPerWorker": 9, "gpuType": "a100"})
    reason = backend.check(job, placement())
    assert reason is not None
    assert "largest node of partition 'gpu' has 8" in reason
    assert "Slurm: Requested node configuration is not available" in reason
    assert job.object_name not in {m.ref.name for m in backend.managed()}  # nothing was submitted
    with pytest.raises(SubmitRejected, match="Requested node configuration is not available"):
        backend.submit(job, placement())
    # (22.05 then keeps the refused request as a FAILED job with reason BadConstraints: check() is the way
    # to learn it before anything reaches Slurm)


def test_cancel_is_idempotent(backend: SlurmBackend) -> None:
    ref = backend.submit(command_job(["sleep", "300"], resources={"gpusPerWorker": 1}), placement())
    wait_for(backend, ref, {BackendPhase.RUNNING})
    backend.cancel(ref)
    seen = wait_for(backend, ref, TERMINAL)
    assert (seen.phase, seen.failure) == (BackendPhase.CANCELLED, FailureKind.CANCELLED)
    backend.cancel(ref)  # again: a finished job
    backend.cancel(type(ref)(ref.backend, "dt-jnone-1", "99999999"))  # unknown to Slurm


def test_exit_three_is_a_user_failure_with_exit_code_three(backend: SlurmBackend) -> None:
    ref = backend.submit(command_job(["bash", "-c", "exit 3"], resources={"gpusPerWorker": 0}), placement())
    seen = wait_for(backend, ref, TERMINAL)
    assert (seen.phase, seen.exit_code, seen.failure) == (BackendPhase.FAILED, 3, FailureKind.USER), seen
    # the same job resolved from accounting (sacct), as the adapter does once it has left slurmctld; slurmdbd
    # first holds a placeholder record named "allocation" for a moment after the job ends
    deadline = time.monotonic() + 20
    (past,) = backend.transport.history([ref.native_id])
    while past.name != ref.name and time.monotonic() < deadline:
        time.sleep(0.5)
        (past,) = backend.transport.history([ref.native_id])
    assert (past.state, past.exit_code, past.name) == ("FAILED", 3, ref.name)


@pytest.mark.slow
def test_over_the_time_limit_is_timeout(backend: SlurmBackend) -> None:
    ref = backend.submit(command_job(["sleep", "600"], resources={"gpusPerWorker": 0}, timeLimit="1m"), placement())
    seen = wait_for(backend, ref, TERMINAL, timeout=180)  # Slurm checks time limits about every 30 s
    assert (seen.phase, seen.failure, seen.native_state) == (BackendPhase.FAILED, FailureKind.TIMEOUT, "TIMEOUT")


HOSTILE = [
    "$(touch {d}/pwned-dollar)", "`touch {d}/pwned-backtick`", "'; touch {d}/pwned-quote; echo '",
    '"; touch {d}/pwned-dquote; echo "', "a;touch {d}/pwned-semicolon", "line1\ntouch {d}/pwned-newline",
]


def test_hostile_arguments_and_env_are_literal(
    backend: SlurmBackend, slurm_env: dict[str, str], tmp_path: Path
) -> None:
    probe = tmp_path  # the "nodes" are this machine: anything the strings ran would appear here
    args = [h.format(d=probe) for h in HOSTILE]
    job = command_job(["printf", "[%s]\\n", *args], env={"EVIL": args[0] + args[5]},
                      resources={"gpusPerWorker": 0, "workers": 2})
    ref = backend.submit(job, placement())
    assert wait_for(backend, ref, TERMINAL).phase is BackendPhase.SUCCEEDED
    printed = output_of(slurm_env, ref)
    assert printed.count("".join(f"[{a}]\n" for a in args)) == 2  # both workers, every word intact
    env_job = command_job(["bash", "-c", 'printf "<%s>" "$EVIL"'], env={"EVIL": args[0] + args[5]},
                          resources={"gpusPerWorker": 0})
    env_ref = backend.submit(env_job, placement())
    assert wait_for(backend, env_ref, TERMINAL).phase is BackendPhase.SUCCEEDED
    assert output_of(slurm_env, env_ref) == f"<{args[0] + args[5]}>"
    assert sorted(p.name for p in probe.iterdir()) == []


def test_hostile_names_never_reach_slurm() -> None:
    for name in ("x;touch /tmp/pwned", "$(id)", "a b", "A"):
        with pytest.raises(SpecError, match=r"metadata\.name"):
            parse_spec({**command_job(["true"]).spec.to_dict(), "metadata": {"name": name}})
    with pytest.raises(ValueError, match=r"settings\.partition"):
        from_config("slurm-local", {"partition": "gpu\n#SBATCH --uid=0", "container": {"runtime": "none"}})


def test_snapshot_shows_the_cluster_and_a_running_four_gpu_job(backend: SlurmBackend) -> None:
    snap = backend.snapshot()
    assert (len(snap.nodes), snap.gpus_total) == (4, 32)
    assert {n.gpu_type for n in snap.nodes} == {"a100"}
    assert {n.name: n.switch for n in snap.nodes} == {"n1": "leaf1", "n2": "leaf1", "n3": "leaf2", "n4": "leaf2"}
    assert {(s.name, s.parent) for s in snap.switches} == {("leaf1", "spine"), ("leaf2", "spine"), ("spine", None)}
    assert [p.name for p in snap.pools] == ["gpu"]

    ref = backend.submit(command_job(["sleep", "300"], resources={"gpusPerWorker": 4, "gpuType": "a100"}),
                         placement())
    try:
        running = wait_for(backend, ref, {BackendPhase.RUNNING})
        snap = backend.snapshot()
        others = sum(r.gpus for r in backend.transport.jobs()
                     if r.state == "RUNNING" and r.job_id != ref.native_id)
        assert snap.gpus_free == 32 - 4 - others  # 28 on an otherwise idle cluster
        (node,) = (n for n in snap.nodes if n.name == running.nodes[0])
        assert node.gpus_total - node.gpus_free >= 4
        assert snap.running_jobs >= 1 and snap.pool("gpu") is not None
    finally:
        backend.cancel(ref)


def test_submit_is_idempotent_across_adapter_restarts(backend: SlurmBackend, slurm_env: dict[str, str]) -> None:
    job = command_job(["sleep", "30"], resources={"gpusPerWorker": 0})
    first = backend.submit(job, placement())
    assert backend.submit(job, placement()) == first
    restarted = from_config("slurm-local", cli_settings(slurm_env))  # a fresh process after a crash
    assert restarted.submit(job, placement()) == first
    assert [m.ref for m in restarted.managed() if m.ref.name == job.object_name] == [first]
    backend.cancel(first)


def test_estimate_start_is_near_now(backend: SlurmBackend) -> None:
    estimate = backend.estimate_start(command_job(["true"], resources={"gpusPerWorker": 1}), placement())
    assert estimate is not None and abs(estimate - time.time()) < 3600


@pytest.mark.exclusive
@pytest.mark.slow
def test_unreachable_controller_raises_backend_unavailable(slurm_env: dict[str, str]) -> None:
    backend = from_config("slurm-down", cli_settings(slurm_env, commandTimeout=20))
    subprocess.run([str(REPO / "scripts/slurm/stop.sh"), "slurmctld"], check=True, capture_output=True)
    try:
        with pytest.raises(BackendUnavailable):
            backend.snapshot()
        with pytest.raises(BackendUnavailable):
            backend.managed()
    finally:
        subprocess.run([str(REPO / "scripts/slurm/start.sh")], check=True, capture_output=True)
    assert backend.snapshot().gpus_total == 32


def test_snapshot_names_the_sifs_in_the_image_directory(slurm_env: dict[str, str], tmp_path: Path) -> None:
    digest = "ef" * 32
    (tmp_path / f"sha256-{digest}.sif").write_bytes(b"")
    (tmp_path / "partial.sif.tmp").write_bytes(b"")
    sif = from_config("slurm-local", cli_settings(slurm_env, container={"runtime": "sif-bwrap",
                                                                        "imageDir": str(tmp_path)}))
    assert sif.snapshot().images == {f"sha256:{digest}"}
