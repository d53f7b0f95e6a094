"""The one command line a job runs, the same on both tracks.

``launch_argv(spec)`` returns the program and arguments each worker runs. Values known only on the backend
(the rendezvous of multi-worker training) appear as ``EnvRef`` items; each adapter renders them its own way:
Slurm as a double-quoted ``"$NAME"`` in the sbatch script, Kubernetes as ``$(NAME)`` in the container args.
Every worker must have these environment variables set by its adapter:

- ``MASTER_ADDR``: the first worker's host; ``MASTER_PORT``: a free port agreed by all workers;
- ``NODE_RANK``: this worker's index (0..workers-1); ``WORLD_SIZE`` / ``NNODES``: the number of workers.

A YOLO job renders to ``yolo <task> train key=value ...`` (ultralytics' CLI). Several GPUs per worker become
the device list ``device=0,1,..``; several workers become a ``torchrun`` launch around the same ``yolo``
command (ultralytics trains with DDP when it finds ``LOCAL_RANK`` set by torchrun).
"""

from __future__ import annotations

from dataclasses import dataclass

from dualtrack.broker.domain.spec import TrainingSpec, YoloSpec

RENDEZVOUS_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "WORLD_SIZE", "NNODES")
DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class EnvRef:
    """A reference to an environment variable the backend sets for each worker."""

    name: str


Arg = str | EnvRef


def _yolo_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def yolo_argv(yolo: YoloSpec, gpus_per_worker: int) -> list[str]:
    """``yolo <task> <mode> model=.. data=.. epochs=.. imgsz=.. batch=.. workers=.. device=.. [...]``."""
    if yolo.device is not None:
        device = yolo.device
    elif gpus_per_worker == 0:
        device = "cpu"
    else:
        device = ",".join(str(i) for i in range(gpus_per_worker))
    args: dict[str, object] = {
        "model": yolo.model,
        "data": yolo.data,
        "epochs": yolo.epochs,
        "imgsz": yolo.imgsz,
        "batch": yolo.batch,
        "workers": yolo.workers,
        "device": device,
    }
    if yolo.resume is not False:
        args["resume"] = yolo.resume
    if yolo.project is not None:
        args["project"] = yolo.project
    if yolo.name is not None:
        args["name"] = yolo.name
    args.update(sorted(yolo.args.items()))
    return ["yolo", yolo.task, yolo.mode, *(f"{k}={_yolo_value(v)}" for k, v in args.items())]


def launch_argv(spec: TrainingSpec) -> list[Arg]:
    """The argv every worker runs (see the module docstring for the environment it expects)."""
    if spec.command is not None:
        return list(spec.command)
    assert spec.yolo is not None  # the spec validator guarantees exactly one of yolo / command
    workers = spec.resources.workers
    gpus = spec.resources.gpus_per_worker
    inner = yolo_argv(spec.yolo, gpus)
    if workers == 1:
        return list(inner)
    return [
        "torchrun",
        f"--nnodes={workers}",
        f"--nproc-per-node={max(gpus, 1)}",
        "--node-rank",
        EnvRef("NODE_RANK"),
        "--master-addr",
        EnvRef("MASTER_ADDR"),
        "--master-port",
        EnvRef("MASTER_PORT"),
        "--no-python",
        *inner,
    ]


def render_shell(argv: list[Arg]) -> str:
    """A POSIX shell rendering: literals single-quoted, EnvRefs as ``"$NAME"``. Nothing user-given can execute."""
    import shlex

    return " ".join(f'"${{{a.name}}}"' if isinstance(a, EnvRef) else shlex.quote(a) for a in argv)


def render_kubernetes(argv: list[Arg]) -> list[str]:
    """Container args: EnvRefs as ``$(NAME)`` (expanded by the kubelet); a literal ``$(`` is escaped ``$$(``."""
    return [f"$({a.name})" if isinstance(a, EnvRef) else a.replace("$(", "$$(") for a in argv]
