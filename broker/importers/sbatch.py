"""sbatch scripts and ``sbatch ...`` command lines -> unified spec (docs/import.md, "sbatch scripts").

Carried over: ``--job-name``, ``--nodes`` -> workers, GPUs per node (``--gres=gpu[:type]:N``, ``--gpus-per-node``,
``--gpus``, ``--gpus-per-task``) -> gpusPerWorker/gpuType, ``--cpus-per-task`` (x tasks per node) ->
cpusPerWorker, ``--mem``/``--mem-per-cpu`` -> memoryPerWorker, ``--time`` -> timeLimit, ``--switches`` ->
topology, exported variables -> env, the program the body launches (through ``srun``, ``torchrun``,
``apptainer/singularity exec``; ultralytics/YOLOv5 recognized) and a ``docker://`` image. Everything else
(partition, qos, account, output files, shell set-up lines...) gets a warning: the broker's backend settings
decide those.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from dualtrack.broker.domain.launch import users_env_value
from dualtrack.broker.importers.base import (
    PLACEHOLDER_IMAGE,
    Imported,
    dns_name,
    empty_spec,
    format_memory,
    format_seconds,
)
from dualtrack.broker.importers.commands import recognize

SHORT = {"-J": "job-name", "-p": "partition", "-N": "nodes", "-n": "ntasks", "-c": "cpus-per-task", "-t": "time",
         "-q": "qos", "-A": "account", "-G": "gpus", "-o": "output", "-e": "error", "-D": "chdir", "-C": "constraint",
         "-w": "nodelist", "-x": "exclude", "-a": "array", "-d": "dependency", "-i": "input", "-Q": "quiet"}
FLAGS = {"no-requeue", "requeue", "exclusive", "quiet", "hold", "wait", "parsable", "test-only", "verbose",
         "overcommit", "contiguous", "spread-job", "use-min-nodes"}
USED = {"job-name", "nodes", "ntasks", "ntasks-per-node", "cpus-per-task", "mem", "mem-per-cpu", "time", "gres",
        "gpus", "gpus-per-node", "gpus-per-task", "switches", "comment"}
DUALTRACK_OWN = {"output", "chdir", "export", "no-requeue", "partition", "qos", "account"}  # rendered from settings
ENV_SKIP = {"PATH", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "NNODES", "NODE_RANK"}
LAUNCHERS = ("srun", "torchrun", "python", "python3", "yolo", "apptainer", "singularity", "accelerate", "deepspeed",
             "mpirun", "bash", "sh")
SRUN_FLAGS = {"--kill-on-bad-exit", "--exclusive", "--overlap", "--unbuffered", "-u", "-l", "--label",
              "--mpi=pmix", "--no-kill", "-K", "--cpu-bind=none"}
DUALTRACK_OBJECT = re.compile(r"^dt-[0-9a-v]{13}-\d+$")
YOLO_IMAGE = "ultralytics/ultralytics:latest"


def looks_like_sbatch(text: str) -> bool:
    return "#SBATCH" in text or bool(re.search(r"(^|\n)\s*(\$\s*)?sbatch\s", text))


def import_sbatch(text: str, *, base_dir: Path | None = None,
                  read_script: Callable[[Path], str] | None = None) -> Imported:
    """The unified spec of an sbatch script (``#SBATCH`` directives and a body) or of an ``sbatch [options]
    script.sh`` command line; a script the command line names is read from ``base_dir`` when it is there."""
    imported = Imported(empty_spec("imported-job"), source_kind="sbatch")
    command_line = _command_line(text)
    if command_line is not None:
        options, script, script_args = _parse_command(command_line, imported)
        path = (base_dir or Path(".")) / script if script else None
        body_text = ""
        if path is not None and path.is_file():
            body_text = (read_script or Path.read_text)(path)
            directives, body = _split_script(body_text, imported)
            options = {**directives, **options}  # command-line options override the script's directives
        elif script:
            imported.warn("spec.command", f"the script {script} is not beside the imported file: the job runs "
                                          "`bash " + " ".join([script, *script_args]) + "` from its working "
                                          "directory (import the script itself to carry its command over)")
            body = None
        else:
            body = None
        _build(options, body if path is not None and path.is_file() else None, imported,
               fallback=["bash", script, *script_args] if script else None)
        return imported
    directives, body = _split_script(text, imported)
    _build(directives, body, imported, fallback=None)
    return imported


# ---------------------------------------------------------------------------------------------- parsing
def _command_line(text: str) -> str | None:
    joined = re.sub(r"\\\s*\n", " ", text)
    for line in joined.splitlines():
        stripped = line.strip().removeprefix("$").strip()
        if stripped.startswith("sbatch "):
            return stripped
    return None


def _option_words(words: list[str], imported: Imported, where: str) -> tuple[dict[str, str], list[str]]:
    """Options (long names without dashes -> value, "" for flags) and the words after them."""
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-") or word == "-":
            break
        if word.startswith("--"):
            key, eq, value = word[2:].partition("=")
            if not eq and key not in FLAGS and i + 1 < len(words) and not words[i + 1].startswith("-"):
                value = words[i + 1]
                i += 1
        else:
            key = SHORT.get(word[:2], word[1:2])
            value = word[2:].lstrip("=")
            if not value and key not in FLAGS and i + 1 < len(words):
                value = words[i + 1]
                i += 1
        options[key] = value
        i += 1
    return options, words[i:]


def _parse_command(line: str, imported: Imported) -> tuple[dict[str, str], str, list[str]]:
    words = shlex.split(line)[1:]
    options, rest = _option_words(words, imported, "sbatch")
    return options, (rest[0] if rest else ""), rest[1:]


def _split_script(text: str, imported: Imported) -> tuple[dict[str, str], list[str]]:
    """``#SBATCH`` directives (until the first command, as Slurm reads them) and the body's logical lines."""
    directives: dict[str, str] = {}
    body: list[str] = []
    in_header = True
    for line in re.sub(r"\\\n", " ", text).splitlines():
        stripped = line.strip()
        if in_header and stripped.startswith("#SBATCH"):
            words = shlex.split(stripped[len("#SBATCH"):], comments=True)
            options, _ = _option_words(words, imported, "#SBATCH")
            directives.update(options)
            continue
        if not stripped or stripped.startswith("#"):
            continue
        in_header = False
        body.append(stripped)
    return directives, body


# ---------------------------------------------------------------------------------------------- building
def _build(options: dict[str, str], body: list[str] | None, imported: Imported, fallback: list[str] | None) -> None:
    spec = imported.spec
    rendered = options.get("comment", "").startswith("dualtrack:")
    raw_name = options.get("job-name", "")
    if DUALTRACK_OBJECT.match(raw_name) or not raw_name:
        spec["metadata"]["name"] = "imported-job"
        imported.warn("metadata.name", "the script carries no job name of its own" +
                      (f" ({raw_name} is a dualtrack object name)" if raw_name else "") + "; named imported-job")
    else:
        spec["metadata"]["name"] = dns_name(raw_name, imported, "metadata.name")
    imported.warn("metadata.tenant", "an sbatch script has no tenant; the broker uses your token's tenant or "
                                     "'default' (backend settings map tenants to Slurm accounts)")
    _resources(options, imported)
    if options.get("time"):
        spec["spec"]["timeLimit"] = format_seconds(slurm_time(options["time"]))
    if options.get("switches"):
        spec["spec"]["topology"] = {"tier": "switch", "mode": "soft" if "@" in options["switches"] else "hard"}
    for key in sorted(set(options) - USED):
        if rendered and key in DUALTRACK_OWN:
            continue
        imported.warn(f"#SBATCH --{key}", f"{options[key] or '(flag)'}: not carried over (the Slurm backend's "
                                          "settings and the broker decide it)")
    if rendered:
        for field, why in (("metadata.labels", "labels"), ("spec.priority", "the priority"),
                           ("spec.retry", "the retry policy"), ("spec.reroute", "the reroute timeout"),
                           ("spec.placement", "the placement request"), ("spec.gang", "the gang size")):
            imported.warn(field, f"{why} stays with the broker and is not written into the script")
        if not options.get("switches"):
            imported.warn("spec.topology", "a one-node (or tier any) job carries no topology in its script")
    _body(body, imported, fallback, rendered)
    if rendered and "datasets" not in spec["spec"]:
        imported.warn("spec.datasets", "the script binds no /datasets/ paths (without a container runtime the "
                                       "Slurm backend leaves datasets to the host)")


def _resources(options: dict[str, str], imported: Imported) -> None:
    res = imported.spec["spec"]["resources"]
    nodes = int(options.get("nodes", "1").split("-")[0] or 1)
    res["workers"] = nodes
    per_node = int(options.get("ntasks-per-node") or 0) or max(1, int(options.get("ntasks") or 1) // nodes)
    if per_node > 1:
        imported.warn("spec.resources.workers", f"{per_node} tasks per node become one launcher per node "
                                                "(torchrun starts one process per GPU); CPUs are summed per node")
    gpus, gpu_type = _gpus(options, nodes, per_node, imported)
    res["gpusPerWorker"] = gpus
    if gpu_type:
        res["gpuType"] = gpu_type
    cpus = int(options.get("cpus-per-task") or 0) * per_node
    if cpus:
        res["cpusPerWorker"] = cpus
    if options.get("mem"):
        res["memoryPerWorker"] = format_memory(slurm_memory(options["mem"]))
    elif options.get("mem-per-cpu"):
        res["memoryPerWorker"] = format_memory(slurm_memory(options["mem-per-cpu"]) * max(cpus, 1))


def _gpus(options: dict[str, str], nodes: int, per_node: int, imported: Imported) -> tuple[int, str | None]:
    def split(value: str) -> tuple[int, str | None]:
        parts = value.split(":")
        count = int(parts[-1]) if parts[-1].isdigit() else 1
        kind = parts[-2] if len(parts) >= 2 and not parts[-2].isdigit() and parts[-2] != "gpu" else None
        return count, kind

    for gres in options.get("gres", "").split(","):
        if gres.startswith("gpu"):
            return split(gres)
        if gres:
            imported.warn("#SBATCH --gres", f"{gres}: only GPUs are carried over")
    if options.get("gpus-per-node"):
        return split(options["gpus-per-node"])
    if options.get("gpus-per-task"):
        count, kind = split(options["gpus-per-task"])
        return count * per_node, kind
    if options.get("gpus"):
        count, kind = split(options["gpus"])
        if count % nodes:
            imported.warn("spec.resources.gpusPerWorker", f"--gpus={count} over {nodes} nodes is uneven; rounded up")
        return -(-count // nodes), kind
    return 0, None


def slurm_time(value: str) -> int:
    """Slurm's time formats in seconds: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S."""
    days, _, clock = value.rpartition("-") if "-" in value else ("", "", value)
    parts = [int(p) for p in clock.split(":")]
    if days:
        h, m, s = [*parts, 0, 0][:3]
        return int(days) * 86400 + h * 3600 + m * 60 + s
    if len(parts) == 1:
        return parts[0] * 60
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def slurm_memory(value: str) -> int:
    """``64G``, ``65536M``, ``65536`` (MiB, Slurm's default unit) in bytes."""
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", value.strip().upper())
    if match is None:
        raise ValueError(f"--mem={value}: not a Slurm memory size")
    unit = {"K": 1024, "M": 1024**2, "": 1024**2, "G": 1024**3, "T": 1024**4}[match.group(2)]
    return int(match.group(1)) * unit


# ---------------------------------------------------------------------------------------------- the body
def _body(body: list[str] | None, imported: Imported, fallback: list[str] | None, rendered: bool) -> None:
    spec = imported.spec["spec"]
    env: dict[str, str] = {}
    launch: list[str] | None = None
    for line in body or []:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            _exports(words[1:], env, imported, rendered)
            continue
        program = words[0].strip('"')
        if program in LAUNCHERS or program.endswith("srun\"") or program == "$DUALTRACK_SRUN":
            if launch is not None and not rendered:
                imported.warn("spec.command", f"an earlier launch line is not carried over: {' '.join(launch)}")
            launch = words
            continue
        if not rendered:
            imported.warn("spec.command", f"body line not carried over: {line}")
    if env:
        spec["env"] = env
    argv = _program(launch, imported) if launch is not None else fallback
    if argv is None:
        argv = ["true"]
        imported.warn("spec.command", "the script launches nothing dualtrack recognizes; set spec.command")
    spec.update(recognize(argv, imported, "spec.command", spec["resources"].get("gpusPerWorker", 0)))
    if "image" not in spec:
        spec["image"] = YOLO_IMAGE if "yolo" in spec else PLACEHOLDER_IMAGE
        imported.warn("spec.image", f"the script names no docker:// image; {spec['image']} assumed (set spec.image)")


def _exports(words: list[str], env: dict[str, str], imported: Imported, rendered: bool) -> None:
    for word in words:
        name, eq, value = word.partition("=")
        if not eq or name in ENV_SKIP:
            continue
        if "$" in value:
            if not rendered:
                imported.warn(f"spec.env.{name}", f"{value!r} depends on the shell; not carried over")
            continue
        own = users_env_value(name, value)
        if own is not None:
            env[name] = own


def _program(words: list[str], imported: Imported) -> list[str]:
    """The argv a launch line runs, without ``srun [opts]``, ``bash -c '... exec'`` and the container runtime."""
    if words[0] in ("srun", "$DUALTRACK_SRUN") or words[0].endswith("srun"):
        _, words = _srun_options(words[1:])
    if words[:2] in (["/bin/bash", "-c"], ["bash", "-c"]) and len(words) == 3:
        inner = shlex.split(words[2])
        words = inner[inner.index("exec") + 1:] if "exec" in inner else inner
    return _container(words, imported)


def _srun_options(words: list[str]) -> tuple[list[str], list[str]]:
    i = 0
    while i < len(words) and words[i].startswith("-"):
        word = words[i]
        if "=" not in word and word not in SRUN_FLAGS and i + 1 < len(words) and not words[i + 1].startswith("-"):
            i += 1
        i += 1
    return words[:i], words[i:]


def _container(words: list[str], imported: Imported) -> list[str]:
    spec = imported.spec["spec"]
    if words[:1] and words[0] in ("apptainer", "singularity") and words[1:2] in (["exec"], ["run"]):
        rest = words[2:]
        i = 0
        while i < len(rest) and rest[i].startswith("-"):
            if rest[i] in ("--bind", "-B", "--env", "--pwd", "--home", "--overlay") and i + 1 < len(rest):
                if rest[i] in ("--bind", "-B"):
                    _datasets(rest[i + 1], imported)
                i += 1
            i += 1
        image, program = (rest[i] if i < len(rest) else ""), rest[i + 1:]
        if image.startswith("docker://"):
            spec["image"] = image[len("docker://"):]
        elif image:
            imported.warn("spec.image", f"{image} is a SIF file, not an image reference; set spec.image to the "
                                        "Docker/OCI image it was built from")
        return program
    if len(words) > 2 and words[1].endswith(".sif") and "--" in words:  # sif runner: <runner> <sif> [..] -- argv
        binds = words[2:words.index("--")]
        for i, word in enumerate(binds):
            if word == "--bind" and i + 1 < len(binds):
                _datasets(binds[i + 1], imported)
        imported.warn("spec.image", f"{words[1]} is a SIF file; set spec.image to the image it was built from")
        return words[words.index("--") + 1:]
    return words


def _datasets(binds: str, imported: Imported) -> None:
    for bind in binds.split(","):
        parts = bind.split(":")
        if len(parts) >= 2 and parts[1].startswith("/datasets/"):
            imported.spec["spec"].setdefault("datasets", []).append(parts[1][len("/datasets/"):].strip("/"))
        else:
            imported.warn("spec.datasets", f"bind {bind}: only binds under /datasets/ become datasets")


__all__ = ["import_sbatch", "looks_like_sbatch", "slurm_memory", "slurm_time"]

