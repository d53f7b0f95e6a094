from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from dualtrack.adapters.base import SubmitRejected
from dualtrack.adapters.slurm.render import build_request, script_text
from dualtrack.adapters.slurm.settings import SlurmSettings
from dualtrack.broker.domain import Job, Placement, parse_spec

from .conftest import DIGEST, make_job, settings

PLACEMENT = Placement("slurm-unit")


def directives(script: str) -> list[str]:
    return [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")]


def test_directives_of_a_two_node_job() -> None:
    job = make_job(
        resources={"workers": 2, "gpusPerWorker": 4, "gpuType": "a100", "cpusPerWorker": 8,
                   "memoryPerWorker": "32Gi"},
        timeLimit="90s", job_id="jabc", attempt=3,
    )
    s = settings(qos="high", accounts={"vision": "acct-v"}, gpuTypes={"a100": "nvidia_a100"})
    assert directives(script_text(build_request(job, PLACEMENT, s))) == [
        "--job-name=dt-jabc-3",
        "--comment=dualtrack:jabc:3",
        "--partition=gpu",
        "--no-requeue",
        "--qos=high",
        "--account=acct-v",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--gres=gpu:nvidia_a100:4",
        "--cpus-per-task=8",
        "--mem=32768M",
        "--time=2",  # 90 s rounds up to whole minutes
        "--output=/var/tmp/out/slurm-%j.out",
        "--chdir=/var/tmp/out",
        "--export=NONE",
    ]


def test_untyped_gpus_no_gpus_and_unmapped_tenant() -> None:
    untyped = build_request(make_job(resources={"gpusPerWorker": 2}), PLACEMENT, settings())
    assert untyped.gres == "gpu:2" and untyped.account is None and untyped.qos is None
    cpu_only = build_request(make_job(resources={"gpusPerWorker": 0}), PLACEMENT, settings())
    assert cpu_only.gres is None and "--gres" not in script_text(cpu_only)


def test_placement_pool_overrides_partition() -> None:
    request = build_request(make_job(), Placement("slurm-unit", pool="debug"), settings())
    assert request.partition == "debug"


@pytest.mark.parametrize(
    ("workers", "tier", "mode", "expected"),
    [
        (1, "switch", "hard", None),  # one node is inside one switch anyway
        (1, "node", "hard", None),
        (2, "any", "hard", None),
        (2, "switch", "hard", "1"),
        (2, "switch", "soft", "1@5"),
        (2, "node", "hard", "1"),  # several workers cannot share one node here: nearest tier Slurm enforces
    ],
)
def test_topology_tier_to_switches(workers: int, tier: str, mode: str, expected: str | None) -> None:
    job = make_job(resources={"workers": workers}, topology={"tier": tier, "mode": mode})
    request = build_request(job, PLACEMENT, settings())
    assert request.switches == expected
    assert (f"--switches={expected}" in directives(script_text(request))) == (expected is not None)


def task_script(body: str) -> str:
    """The script each task runs: the argument of ``srun ... bash -c``."""
    srun = next(line for line in body.splitlines() if line.startswith('"$DUALTRACK_SRUN" '))
    words = shlex.split(srun)
    assert words[4:6] == ["/bin/bash", "-c"]
    return words[6]


def task_argv(body: str) -> list[str]:
    """The words the task ``exec``s."""
    return shlex.split(task_script(body).split("; exec ", 1)[1])


def test_rendezvous_and_per_task_rank() -> None:
    body = build_request(make_job(resources={"workers": 2}), PLACEMENT, settings(masterPort=29600)).body
    assert 'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"' in body
    assert "export MASTER_ADDR MASTER_PORT=29600" in body
    assert 'export WORLD_SIZE="$SLURM_NNODES" NNODES="$SLURM_NNODES"' in body
    assert 'DUALTRACK_SRUN="$(command -v srun)"' in body
    srun = next(line for line in body.splitlines() if line.startswith('"$DUALTRACK_SRUN" '))
    words = shlex.split(srun)
    assert words[:5] == ["$DUALTRACK_SRUN", "--export=ALL", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "/bin/bash"]
    assert words[5] == "-c" and words[6] == "export NODE_RANK=\"$SLURM_NODEID\"; exec python train.py"


def test_user_path_and_rendezvous_names_cannot_break_the_launch() -> None:
    body = build_request(make_job(env={"PATH": "/opt/conda/bin:$PATH", "MASTER_ADDR": "evil"}), PLACEMENT,
                         settings()).body.splitlines()
    user_path = body.index("export PATH='/opt/conda/bin:$PATH'")
    assert body.index('DUALTRACK_SRUN="$(command -v srun)"') < user_path  # tools resolved before the user's PATH
    assert user_path < body.index("export MASTER_ADDR MASTER_PORT=29500")  # our rendezvous wins


def test_yolo_one_worker_with_two_gpus_uses_ultralytics_own_ddp() -> None:
    spec = parse_spec({"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "y"},
                       "spec": {"image": "ultralytics/ultralytics:8.3.40",
                                "yolo": {"model": "yolov8s.yaml", "data": "coco8.yaml"},
                                "resources": {"workers": 1, "gpusPerWorker": 2}}})
    task = task_script(build_request(Job(id="jy", spec=spec), PLACEMENT, settings()).body)
    assert task.startswith('export NODE_RANK="$SLURM_NODEID"; exec yolo detect train ')
    assert "device=0,1" in task and "torchrun" not in task


def test_apptainer_and_singularity_wrap_with_nv_binds_and_sif() -> None:
    for runtime in ("apptainer", "singularity"):
        s = settings(container={"runtime": runtime, "imageDir": "/images", "binds": ["/scratch:/scratch"]},
                     datasets={"coco": "/data/coco"})
        job = make_job(datasets=["coco"])
        argv = task_argv(build_request(job, PLACEMENT, s).body)
        assert argv == [runtime, "exec", "--nv", "--bind", "/scratch:/scratch,/data/coco:/datasets/coco:ro",
                         f"/images/sha256-{DIGEST[7:]}.sif", "python", "train.py"]


def test_sif_bwrap_runner_contract() -> None:
    s = settings(container={"runtime": "sif-bwrap", "imageDir": "/images", "sifRunner": "/opt/dt/sif-run"},
                 datasets={"coco": "/data/coco"})
    argv = task_argv(build_request(make_job(datasets=["coco"]), PLACEMENT, s).body)
    assert argv == ["/opt/dt/sif-run", f"/images/sha256-{DIGEST[7:]}.sif", "--bind",
                     "/data/coco:/datasets/coco:ro", "--", "python", "train.py"]


@pytest.mark.parametrize("image_ref", [None, "ghcr.io/acme/train:1"])
def test_sif_runtime_needs_a_digest(image_ref: str | None) -> None:
    s = settings(container={"runtime": "apptainer", "imageDir": "/images"})
    with pytest.raises(SubmitRejected, match="digest-pinned"):
        build_request(make_job(image_ref=image_ref), PLACEMENT, s)


def test_runtime_none_needs_no_image_and_unknown_dataset_is_rejected() -> None:
    assert build_request(make_job(image_ref=None), PLACEMENT, settings()).body
    s = settings(container={"runtime": "apptainer", "imageDir": "/images"})
    with pytest.raises(SubmitRejected, match="dataset 'coco' is not available"):
        build_request(make_job(datasets=["coco"]), PLACEMENT, s)


HOSTILE = [
    "$(touch {d}/pwned-dollar)",
    "`touch {d}/pwned-backtick`",
    "'; touch {d}/pwned-quote; echo '",
    '"; touch {d}/pwned-dquote; echo "',
    "a;touch {d}/pwned-semicolon",
    "line1\ntouch {d}/pwned-newline",
    "${{IFS}}$(touch${{IFS}}{d}/pwned-ifs)",
    "\\$(touch {d}/pwned-backslash)",
]


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def test_hostile_strings_are_passed_literally_and_execute_nothing(tmp_path: Path) -> None:
    """Runs the rendered script with bash: fake srun/scontrol, two workers; nothing may be created."""
    args = [h.format(d=tmp_path) for h in HOSTILE]
    job = make_job(
        ["bash", "-c", 'printf "%s\\n" "$@" > "$OUT.$NODE_RANK"; printf "%s" "$EVIL" > "$OUT.env.$NODE_RANK"',
         "argv0", *args],
        env={"EVIL": args[0] + args[5], "OUT": str(tmp_path / "out")},
        resources={"workers": 2},
    )
    script = script_text(build_request(job, PLACEMENT, settings()))
    path = tmp_path / "job.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "scontrol", 'printf "n1\\nn2\\n"\n')
    # srun: run the task command once per node with SLURM_NODEID set, as Slurm would
    _stub(bin_dir, "srun", 'while [ "$1" != /bin/bash ]; do shift; done\n'
                           'for id in 0 1; do SLURM_NODEID=$id "$@" || exit $?; done\n')
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "n[1-2]", "SLURM_NNODES": "2"}
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for rank in (0, 1):
        assert (tmp_path / f"out.{rank}").read_text() == "".join(a + "\n" for a in args)
        assert (tmp_path / f"out.env.{rank}").read_text() == args[0] + args[5]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pwned")) == []


def test_hostile_env_names_cannot_reach_the_script() -> None:
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        make_job(env={"A=$(id)": "x"})


def test_settings_type_is_frozen(none_settings: SlurmSettings) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        none_settings.partition = "x"  # type: ignore[misc]
