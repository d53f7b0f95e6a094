"""A job attempt rendered for Slurm: a ``BatchRequest`` (structured) and its sbatch script (text).

Called by the backend (``render``, ``submit``, ``estimate_start``). ``build_request`` raises ``SubmitRejected``
when the job cannot be expressed here (no digest-pinned image for a SIF runtime, a dataset this backend does
not have). The CLI transports send ``script_text(request)`` to ``sbatch`` on stdin; the REST transport sends
the same body with the directives as JSON fields (slurmrestd does not read ``#SBATCH`` lines).

Quoting contract: every value that comes from a user (command, arguments, environment values) is rendered
with ``shlex.quote`` or as an ``EnvRef`` (``"${NAME}"``, a fixed rendezvous variable), and only inside the
body. ``#SBATCH`` values come from validated settings and broker-made names (``dt-<id>-<attempt>``).

Per-task launch: the batch step exports the environment and the rendezvous shared by all workers, then
``srun --ntasks-per-node=1`` starts one launcher per worker; each task runs ``bash -c`` on a script made of
quoted words, which sets ``NODE_RANK=$SLURM_NODEID`` and ``exec``s the (containerised) argv. ``EnvRef`` words
are therefore expanded inside each task, where ``NODE_RANK`` is known.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from dualtrack.adapters.base import SubmitRejected
from dualtrack.adapters.slurm.settings import DEFAULT_DATASET_MOUNT, SlurmSettings
from dualtrack.broker.domain import Job, Placement
from dualtrack.broker.domain.image import digest_of, sif_filename
from dualtrack.broker.domain.launch import CHECKPOINT_MOUNT, attempt_env, job_argv, render_shell
from dualtrack.broker.domain.spec import TopologyMode, TopologyTier

MIB = 1024**2
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SOFT_SWITCH_WAIT_MIN = 5  # soft topology: wait at most this long for a one-switch allocation


@dataclass(frozen=True)
class BatchRequest:
    """What one ``sbatch`` carries. ``gres`` is ``gpu[:type]:N`` or None; ``switches`` is ``1`` or
    ``1@<minutes>`` or None; ``body`` is the script after the directives."""

    name: str
    comment: str
    partition: str
    nodes: int
    ntasks_per_node: int
    cpus_per_task: int
    mem_mb: int
    time_minutes: int
    output: str
    workdir: str
    body: str
    qos: str | None = None
    account: str | None = None
    gres: str | None = None
    switches: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    nice: int | None = None  # --nice from the spec's priority class (settings priorityNice)

    def directives(self) -> list[str]:
        """The ``#SBATCH`` options in a stable order (what ``render`` shows and tests check)."""
        # --no-requeue: a node failure must reach the broker, whose retry policy decides (as attempt n+1)
        out = [f"--job-name={self.name}", f"--comment={self.comment}", f"--partition={self.partition}",
               "--no-requeue"]
        if self.qos:
            out.append(f"--qos={self.qos}")
        if self.nice is not None:
            out.append(f"--nice={self.nice}")
        if self.account:
            out.append(f"--account={self.account}")
        out += [f"--nodes={self.nodes}", f"--ntasks-per-node={self.ntasks_per_node}"]
        if self.gres:
            out.append(f"--gres={self.gres}")
        out += [f"--cpus-per-task={self.cpus_per_task}", f"--mem={self.mem_mb}M", f"--time={self.time_minutes}"]
        if self.switches:
            out.append(f"--switches={self.switches}")
        out += [f"--output={self.output}", f"--chdir={self.workdir}", "--export=NONE"]
        return out


def script_text(request: BatchRequest) -> str:
    """The whole sbatch script: shebang, ``#SBATCH`` lines, body."""
    lines = ["#!/bin/bash", *(f"#SBATCH {d}" for d in request.directives()), request.body]
    return "\n".join(lines)


def comment_for(job: Job) -> str:
    """``--comment`` value: the broker job id and attempt, parseable by ``job_id_from_comment``."""
    return f"dualtrack:{job.id}:{job.attempt}"


def gres_for(job: Job, settings: SlurmSettings) -> str | None:
    res = job.spec.spec.resources
    if res.gpus_per_worker == 0:
        return None
    if res.gpu_type:
        return f"gpu:{settings.gpu_types.get(res.gpu_type, res.gpu_type)}:{res.gpus_per_worker}"
    return f"gpu:{res.gpus_per_worker}"


def switches_for(job: Job) -> str | None:
    """Topology tier -> ``--switches``. ``switch`` asks for one leaf switch: ``1`` when hard (Slurm waits up to
    its ``max_switch_wait``), ``1@5`` when soft. ``node`` with several workers cannot be expressed (one worker
    is one node allocation; the backend lists ``topology.node`` as unsupported, so hard ones are filtered out
    by the policies) and gets the nearest tier Slurm enforces, one switch. One worker needs nothing."""
    spec = job.spec.spec
    tier = spec.topology.tier
    if spec.resources.workers == 1 or tier is TopologyTier.ANY:
        return None
    if spec.topology.mode is TopologyMode.HARD:
        return "1"
    return f"1@{SOFT_SWITCH_WAIT_MIN}"


def _sif_path(job: Job, settings: SlurmSettings) -> str:
    digest = digest_of(job.image_ref) if job.image_ref else None
    if digest is None:
        raise SubmitRejected(
            f"job {job.id}: runtime {settings.container.runtime} needs a digest-pinned image "
            f"(image_ref={job.image_ref!r}); the SIF is looked up as <imageDir>/sha256-<hex>.sif"
        )
    assert settings.container.image_dir is not None  # settings require it for SIF runtimes
    return f"{settings.container.image_dir.rstrip('/')}/{sif_filename(digest)}"


def _dataset_binds(job: Job, settings: SlurmSettings) -> list[str]:
    binds = []
    for name in job.spec.spec.datasets:
        host = settings.datasets.get(name)
        if host is None:
            known = ", ".join(sorted(settings.datasets)) or "none"
            raise SubmitRejected(f"job {job.id}: dataset {name!r} is not available on this backend (has: {known})")
        binds.append(f"{host}:{DEFAULT_DATASET_MOUNT}/{name}:ro")
    return binds


def _checkpoint_binds(job: Job, settings: SlurmSettings) -> list[str]:
    """A YOLO job gets the checkpoint root read-write at /checkpoints (docs/yolo.md#checkpoints)."""
    if settings.checkpoint_root is None or job.spec.spec.yolo is None:
        return []
    return [f"{settings.checkpoint_root}:{CHECKPOINT_MOUNT}"]


def task_command(job: Job, settings: SlurmSettings) -> str:
    """The shell text one task ``exec``s: the argv, wrapped by the container runtime. Quoted throughout."""
    argv = render_shell(job_argv(job))
    runtime = settings.container.runtime
    if runtime == "none":
        return argv
    sif = _sif_path(job, settings)
    binds = [*settings.container.binds, *_dataset_binds(job, settings), *_checkpoint_binds(job, settings)]
    if runtime in ("apptainer", "singularity"):
        bind_args = ["--bind", ",".join(binds)] if binds else []
        return " ".join(shlex.quote(w) for w in [runtime, "exec", "--nv", *bind_args, sif]) + " " + argv
    # sif-bwrap: <sifRunner> <sif> [--bind src:dst ...] -- <argv>
    words = [settings.container.sif_runner, sif]
    for bind in binds:
        words += ["--bind", bind]
    return " ".join(shlex.quote(w) for w in words) + " -- " + argv


def body_for(job: Job, settings: SlurmSettings) -> str:
    """The script after the directives. The tools the plumbing needs (scontrol, srun) are resolved before the
    user's environment is exported, and the rendezvous is exported after it, so a user's ``PATH`` or
    ``MASTER_ADDR`` cannot break the launch."""
    spec = job.spec.spec
    env_lines = [f"export {key}={shlex.quote(value)}" for key, value in sorted(spec.env.items())]
    per_task = 'export NODE_RANK="$SLURM_NODEID"; exec ' + task_command(job, settings)
    lines = [
        "# dualtrack: one launcher per worker; rendezvous for torchrun / YOLO DDP",
        f'export PATH="${{PATH:-{DEFAULT_PATH}}}"',
        'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
        'DUALTRACK_SRUN="$(command -v srun)"',
        *env_lines,
        f"export MASTER_ADDR MASTER_PORT={settings.master_port}",
        'export WORLD_SIZE="$SLURM_NNODES" NNODES="$SLURM_NNODES"',
        "export " + " ".join(f"{key}={shlex.quote(value)}" for key, value in attempt_env(job).items()),
        '"$DUALTRACK_SRUN" --export=ALL --ntasks-per-node=1 --kill-on-bad-exit=1 /bin/bash -c '
        + shlex.quote(per_task),
        "",
    ]
    return "\n".join(lines)


def build_request(job: Job, placement: Placement, settings: SlurmSettings) -> BatchRequest:
    """Render one attempt. ``placement.pool`` (a partition) overrides the configured default partition."""
    res = job.spec.spec.resources
    output_dir = settings.output_dir.rstrip("/") or "/"
    return BatchRequest(
        name=job.object_name,
        comment=comment_for(job),
        partition=placement.pool or settings.partition,
        qos=settings.priority_qos.get(job.spec.spec.priority_class, settings.qos),
        nice=settings.priority_nice.get(job.spec.spec.priority_class),
        account=settings.accounts.get(job.tenant),
        nodes=res.workers,
        ntasks_per_node=1,
        gres=gres_for(job, settings),
        cpus_per_task=res.cpus_per_worker,
        mem_mb=max(1, math.ceil(res.memory_per_worker / MIB)),
        time_minutes=max(1, math.ceil(job.spec.spec.time_limit / 60)),
        switches=switches_for(job),
        output=f"{output_dir}/slurm-%j.out",
        workdir=output_dir,
        body=body_for(job, settings),
        environment={"PATH": DEFAULT_PATH},
    )
