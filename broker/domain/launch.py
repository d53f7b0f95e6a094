"""The one command line a job runs, the same on both tracks.

``launch_argv(spec)`` returns the program and arguments each worker runs. Values known only on the backend
(the rendezvous of multi-worker training) appear as ``EnvRef`` items; each adapter renders them its own way:
Slurm as a double-quoted ``"$NAME"`` in the sbatch script, Kubernetes as ``$(NAME)`` in the container args.
Every worker must have these environment variables set by its adapter:

- ``MASTER_ADDR``: the first worker's host; ``MASTER_PORT``: a free port agreed by all workers;
- ``NODE_RANK``: this worker's index (0..workers-1); ``WORLD_SIZE`` / ``NNODES``: the number of workers.

A YOLO job renders to ``yolo <task> train key=value ...`` (ultralytics' CLI), the same on both tracks
(docs/yolo.md): ``device=cpu`` without GPUs, the device list ``device=0,1,..`` for several GPUs on its one
worker (ultralytics' own DDP; several workers are refused by the spec), ``data`` inside a listed dataset
resolved to ``/datasets/<data>``, and unless the user chose them ``project=/checkpoints/<tenant>`` and
``name=<job id>`` with ``exist_ok=True``: one run directory for every attempt. An attempt that resumes
adds ``resume=<run dir>/weights/last.pt`` (``Job.resume_from``, set by the dispatch step).
"""

from __future__ import annotations

from dataclasses import dataclass

from dualtrack.broker.domain.job import Job
from dualtrack.broker.domain.spec import TrainingSpec, YoloSpec, yolo_data_dataset

RENDEZVOUS_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "WORLD_SIZE", "NNODES")
DEFAULT_MASTER_PORT = 29500
DATASET_MOUNT = "/datasets"  # a dataset named in spec.datasets is mounted read-only at DATASET_MOUNT/<name>
CHECKPOINT_MOUNT = "/checkpoints"  # the backend's checkpoint root, mounted read-write on both tracks


@dataclass(frozen=True)
class YoloRun:
    """Where a YOLO job's run lives, as ultralytics sees it: ``project``/``name`` and an optional resume file."""

    project: str
    name: str
    broker_chosen: bool  # project and name were set by the broker (then exist_ok=True is rendered)
    resume: str | None = None

    @property
    def run_dir(self) -> str:
        return f"{self.project.rstrip('/')}/{self.name}"


def yolo_run(job: Job) -> YoloRun | None:
    """The run of a YOLO job (None for a command job): the user's project/name, else
    ``/checkpoints/<tenant>/<job id>`` (stable over attempts and tracks)."""
    yolo = job.spec.spec.yolo
    if yolo is None:
        return None
    chosen = yolo.project is None and yolo.name is None
    project = yolo.project if yolo.project is not None else f"{CHECKPOINT_MOUNT}/{job.tenant}"
    name = yolo.name if yolo.name is not None else job.id
    return YoloRun(project=project, name=name, broker_chosen=chosen, resume=job.resume_from)


def host_run_dir(run: YoloRun, checkpoint_root: str) -> str | None:
    """The run directory on the backend's host, when it lies under the checkpoint mount (else None)."""
    prefix = CHECKPOINT_MOUNT + "/"
    if not run.run_dir.startswith(prefix):
        return None
    return f"{checkpoint_root.rstrip('/')}/{run.run_dir[len(prefix):]}"


FENCE_PATH_SUFFIX = "/.dualtrack"  # the run folder's job-side hook, first on a YOLO job's PYTHONPATH
ATTEMPT_ENV = ("DUALTRACK_JOB_ID", "DUALTRACK_ATTEMPT", "DUALTRACK_RUN_DIR", "DUALTRACK_RESUME_FROM")


def attempt_env(job: Job) -> dict[str, str]:
    """The variables an adapter sets for every worker of this attempt, after the spec's own ``env`` (these win):
    ``DUALTRACK_JOB_ID`` and ``DUALTRACK_ATTEMPT``; for a YOLO job also the attempt fence's (docs/yolo.md#fence):
    ``DUALTRACK_RUN_DIR``, ``PYTHONPATH`` (``<run dir>/.dualtrack``, then the spec's own PYTHONPATH if any; an
    image's PYTHONPATH is replaced) and, for an attempt that resumes, ``DUALTRACK_RESUME_FROM``."""
    env = {"DUALTRACK_JOB_ID": job.id, "DUALTRACK_ATTEMPT": str(job.attempt)}
    run = yolo_run(job)
    if run is None:
        return env
    own = job.spec.spec.env.get("PYTHONPATH")
    env["DUALTRACK_RUN_DIR"] = run.run_dir
    env["PYTHONPATH"] = run.run_dir + FENCE_PATH_SUFFIX + (f":{own}" if own else "")
    if run.resume:
        env["DUALTRACK_RESUME_FROM"] = run.resume
    return env


def users_env_value(name: str, value: str) -> str | None:
    """What the user set for a variable ``attempt_env`` rendered (for importers reading an artefact back): None
    for the broker's own variables, PYTHONPATH without the fence folder, anything else unchanged."""
    if name in ATTEMPT_ENV:
        return None
    if name == "PYTHONPATH":
        first, _, rest = value.partition(":")
        if first.endswith(FENCE_PATH_SUFFIX):
            return rest or None
    return value


def resolve_data(data: str) -> str:
    """``yolo.data`` as the container sees it: inside a dataset -> ``/datasets/<data>``, else unchanged."""
    return f"{DATASET_MOUNT}/{data}" if yolo_data_dataset(data) is not None else data


@dataclass(frozen=True)
class EnvRef:
    """A reference to an environment variable the backend sets for each worker."""

    name: str


Arg = str | EnvRef


def _yolo_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def yolo_argv(yolo: YoloSpec, gpus_per_worker: int, run: YoloRun | None = None) -> list[str]:
    """``yolo <task> <mode> model=.. data=.. epochs=.. imgsz=.. batch=.. workers=.. device=.. [...]``.

    ``run`` (from ``yolo_run``) supplies project/name (and exist_ok, resume); without it the spec's own."""
    if yolo.device is not None:
        device = yolo.device
    elif gpus_per_worker == 0:
        device = "cpu"
    else:
        device = ",".join(str(i) for i in range(gpus_per_worker))
    args: dict[str, object] = {
        "model": yolo.model,
        "data": resolve_data(yolo.data),
        "epochs": yolo.epochs,
        "imgsz": yolo.imgsz,
        "batch": yolo.batch,
        "workers": yolo.workers,
        "device": device,
    }
    resume = run.resume if run is not None and run.resume else yolo.resume
    if resume is not False:
        args["resume"] = resume
    project = run.project if run is not None else yolo.project
    name = run.name if run is not None else yolo.name
    if project is not None:
        args["project"] = project
    if name is not None:
        args["name"] = name
    if run is not None and run.broker_chosen:
        args["exist_ok"] = True  # a later attempt writes into the same run directory
    args.update(sorted(yolo.args.items()))
    return ["yolo", yolo.task, yolo.mode, *(f"{k}={_yolo_value(v)}" for k, v in args.items())]


def launch_argv(spec: TrainingSpec, run: YoloRun | None = None) -> list[Arg]:
    """The argv every worker runs (see the module docstring for the environment it expects).

    A YOLO spec has one worker (the spec refuses more, docs/yolo.md#multi-worker)."""
    if spec.command is not None:
        return list(spec.command)
    assert spec.yolo is not None  # the spec validator guarantees exactly one of yolo / command
    return list(yolo_argv(spec.yolo, spec.resources.gpus_per_worker, run))


def job_argv(job: Job) -> list[Arg]:
    """What the adapters render for one attempt: ``launch_argv`` with the job's run directory and resume."""
    return launch_argv(job.spec.spec, yolo_run(job))


def render_shell(argv: list[Arg]) -> str:
    """A POSIX shell rendering: literals single-quoted, EnvRefs as ``"$NAME"``. Nothing user-given can execute."""
    import shlex

    return " ".join(f'"${{{a.name}}}"' if isinstance(a, EnvRef) else shlex.quote(a) for a in argv)


def render_kubernetes(argv: list[Arg]) -> list[str]:
    """Container args: EnvRefs as ``$(NAME)`` (expanded by the kubelet); a literal ``$(`` is escaped ``$$(``."""
    return [f"$({a.name})" if isinstance(a, EnvRef) else a.replace("$(", "$$(") for a in argv]
