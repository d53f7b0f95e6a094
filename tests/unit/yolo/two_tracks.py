"""Render one job attempt on both tracks and read back what the worker gets, in one comparable shape.

Used by the parity test (the same job on Slurm and Kubernetes) and the ultralytics argv check. The Slurm side
runs through sif-bwrap (so binds and the SIF are visible in the task command); the Kubernetes side is the
vcjob's first container.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dualtrack.adapters.slurm.render import build_request
from dualtrack.adapters.slurm.settings import parse_settings as slurm_settings
from dualtrack.adapters.volcano.render import render_vcjob
from dualtrack.adapters.volcano.settings import parse_settings as volcano_settings
from dualtrack.broker.domain import Job, Placement, parse_spec_yaml
from dualtrack.broker.domain.image import digest_of

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
DIGEST = "sha256:" + "cd" * 32
CHECKPOINT_ROOT = "/shared/checkpoints"


@dataclass(frozen=True)
class Rendered:
    """What one worker of an attempt gets, as far as both tracks can express it."""

    workers: int
    gang: int
    gpus_per_worker: int
    time_limit_s: int
    image_digest: str | None
    argv: list[str]
    datasets: dict[str, str]  # mount path -> read-only source (host folder or PVC claim), sources differ
    checkpoint_mount: bool
    env: dict[str, str]


def example_datasets() -> list[str]:
    names: set[str] = set()
    for path in EXAMPLES:
        names.update(parse_spec_yaml(path.read_text()).spec.datasets)
    return sorted(names)


def slurm_config() -> Any:
    return slurm_settings("slurm-unit", {
        "container": {"runtime": "sif-bwrap", "imageDir": "/images", "sifRunner": "/opt/sif-run"},
        "datasets": {name: f"/data/{name}" for name in example_datasets()},
        "checkpointRoot": CHECKPOINT_ROOT,
    })


def volcano_config() -> Any:
    return volcano_settings("kube-unit", {"datasets": {name: f"pvc-{name}" for name in example_datasets()},
                                          "checkpointClaim": "ckpt", "checkpointRoot": CHECKPOINT_ROOT})


def pinned(job: Job) -> Job:
    """The job as dispatch hands it over: image pinned to a digest."""
    repo = job.spec.spec.image.split("@")[0].rsplit(":", 1)[0]
    return job.evolve(image_ref=f"{repo}@{DIGEST}")


def on_slurm(job: Job) -> Rendered:
    request = build_request(job, Placement("slurm-unit"), slurm_config())
    lines = request.body.splitlines()
    srun = shlex.split(next(line for line in lines if line.startswith('"$DUALTRACK_SRUN" ')))
    task = shlex.split(srun[6].split("; exec ", 1)[1])
    runner_end = task.index("--")
    runner, argv = task[:runner_end], task[runner_end + 1:]
    binds = [runner[i + 1] for i, word in enumerate(runner) if word == "--bind"]
    datasets = {b.split(":")[1]: "ro" for b in binds if b.endswith(":ro")}
    env = {}
    plumbing = ("export PATH=", "export MASTER", "export WORLD_SIZE")
    for line in lines:
        if line.startswith("export ") and "=" in line and not line.startswith(plumbing):
            for word in shlex.split(line.removeprefix("export ")):
                key, _, value = word.partition("=")
                env[key] = value
    sif = runner[1]
    return Rendered(
        workers=request.nodes, gang=request.nodes, gpus_per_worker=_gres_count(request.gres),
        time_limit_s=request.time_minutes * 60, image_digest="sha256:" + Path(sif).stem.removeprefix("sha256-"),
        argv=argv, datasets=datasets, checkpoint_mount=any(b.endswith(":/checkpoints") for b in binds), env=env,
    )


def _gres_count(gres: str | None) -> int:
    return int(gres.rsplit(":", 1)[1]) if gres else 0


def on_kubernetes(job: Job) -> Rendered:
    manifest = render_vcjob(job, Placement("kube-unit"), volcano_config())
    task = manifest["spec"]["tasks"][0]
    pod = task["template"]["spec"]
    container = pod["containers"][0]
    mounts = container["volumeMounts"]
    gpus = int(container["resources"]["limits"].get("nvidia.com/gpu", 0))
    rendezvous = {"MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "WORLD_SIZE", "NNODES"}
    env = {e["name"]: e["value"] for e in container["env"] if e["name"] not in rendezvous and "value" in e}
    return Rendered(
        workers=task["replicas"], gang=manifest["spec"]["minAvailable"], gpus_per_worker=gpus,
        time_limit_s=pod["activeDeadlineSeconds"], image_digest=digest_of(container["image"]),
        argv=[*container["command"], *container["args"]],
        datasets={m["mountPath"]: "ro" for m in mounts if m.get("readOnly")},
        checkpoint_mount=any(m["mountPath"] == "/checkpoints" for m in mounts), env=env,
    )
