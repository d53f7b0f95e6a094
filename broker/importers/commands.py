"""Recognizing the program a job runs: ``torchrun`` launchers around it, ultralytics' ``yolo`` CLI and YOLOv5's
``python train.py``, which become a ``yolo:`` block; anything else stays a ``command`` (docs/import.md).

``recognize(argv, workers, gpus_per_worker)`` returns the ``spec`` keys to set (``yolo`` or ``command``) and
records a warning for every argument it cannot carry over.
"""

from __future__ import annotations

import re
from typing import Any

from dualtrack.broker.domain.launch import CHECKPOINT_MOUNT, DATASET_MOUNT
from dualtrack.broker.domain.spec import yolo_data_dataset
from dualtrack.broker.importers.base import Imported

JOB_ID = re.compile(r"^j[0-9a-v]{12}$")  # a broker job id (broker.domain.job.new_job_id)
YOLO_TASKS = ("detect", "segment", "classify", "pose", "obb")
YOLO_MODES = ("train", "val", "predict", "export", "track", "benchmark")
YOLO_FIELDS = ("model", "data", "epochs", "imgsz", "batch", "workers", "device", "resume", "project", "name")
RENDEZVOUS_WORDS = {"$(NODE_RANK)", "$(MASTER_ADDR)", "$(MASTER_PORT)", "${NODE_RANK}", "${MASTER_ADDR}",
                    "${MASTER_PORT}", "$NODE_RANK", "$MASTER_ADDR", "$MASTER_PORT"}
# torchrun options that take a value (``--opt value`` or ``--opt=value``); the others are flags.
TORCHRUN_VALUED = {"--nnodes", "--nproc-per-node", "--nproc_per_node", "--node-rank", "--node_rank",
                   "--master-addr", "--master_addr", "--master-port", "--master_port", "--rdzv-backend",
                   "--rdzv_backend", "--rdzv-endpoint", "--rdzv_endpoint", "--rdzv-id", "--rdzv_id",
                   "--max-restarts", "--max_restarts", "--rdzv-conf", "--rdzv_conf", "--log-dir", "--log_dir"}
# YOLOv5 train.py options -> yolo block fields
V5_OPTIONS = {"--img": "imgsz", "--img-size": "imgsz", "--imgsz": "imgsz", "--batch": "batch",
              "--batch-size": "batch", "--epochs": "epochs", "--data": "data", "--weights": "model",
              "--cfg": "model", "--device": "device", "--workers": "workers", "--project": "project",
              "--name": "name"}


def scalar(text: str) -> Any:
    """``3`` -> 3, ``0.5`` -> 0.5, ``True`` -> True: ultralytics' own reading of ``key=value`` values."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def split_joined(argv: list[str]) -> list[str]:
    """``["--img 640"]`` (one list item holding an option and its value) -> ``["--img", "640"]``."""
    out: list[str] = []
    for word in argv:
        if word.startswith("--") and " " in word.strip():
            out += word.split()
        else:
            out.append(word)
    return out


def strip_launcher(argv: list[str], imported: Imported, where: str) -> tuple[list[str], dict[str, str]]:
    """Remove a ``torchrun`` / ``python -m torch.distributed.run`` prefix; returns the program's argv and the
    launcher's options (``nnodes``, ``nproc-per-node``...). dualtrack re-creates the launcher itself."""
    if argv[:1] == ["torchrun"]:
        rest = argv[1:]
    elif argv[:3] in (["python", "-m", "torch.distributed.run"], ["python3", "-m", "torch.distributed.run"]):
        rest = argv[3:]
    else:
        return argv, {}
    options: dict[str, str] = {}
    no_python = False
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        word = rest[i]
        key, _, value = word.partition("=")
        if key in TORCHRUN_VALUED and not value:
            value = rest[i + 1] if i + 1 < len(rest) else ""
            i += 1
        if key == "--no-python" or key == "--no_python":
            no_python = True
        options[key.lstrip("-").replace("_", "-")] = value
        i += 1
    program = rest[i:]
    if not no_python and program and program[0].endswith(".py"):
        program = ["python", *program]
    ignored = sorted(set(options) - {"nnodes", "nproc-per-node", "node-rank", "master-addr", "master-port",
                                     "no-python"})
    if ignored:
        imported.warn(where, f"torchrun options {', '.join('--' + o for o in ignored)} are not carried over "
                             "(dualtrack writes its own launcher)")
    return program, options


def recognize(argv: list[str], imported: Imported, where: str, gpus_per_worker: int) -> dict[str, Any]:
    """``{"yolo": {...}}`` for an ultralytics/YOLOv5 training command, else ``{"command": argv}``."""
    program, _ = strip_launcher(split_joined(argv), imported, where)
    yolo: dict[str, Any] | None = None
    if program[:1] == ["yolo"]:
        yolo = _ultralytics(program[1:], imported, where, gpus_per_worker)
    elif len(program) >= 2 and program[0] in ("python", "python3") and program[1].endswith("train.py"):
        yolo = _yolov5(program[1], program[2:], imported, where, gpus_per_worker)
    if yolo is None:
        return {"command": program}
    workers = int(imported.spec["spec"]["resources"].get("workers", 1))
    if workers > 1:
        imported.warnings = [w for w in imported.warnings if not w.field.startswith("spec.yolo")]
        imported.warn("spec.yolo", f"a YOLO job runs on one worker (docs/yolo.md), this one has {workers}: kept "
                                   f"as spec.command; for ultralytics' own DDP use workers: 1 with "
                                   f"gpusPerWorker: {workers * max(gpus_per_worker, 1)} and a yolo block")
        return {"command": program}
    dataset = yolo_data_dataset(str(yolo["data"]))
    datasets = imported.spec["spec"].setdefault("datasets", [])
    if dataset is not None and dataset not in datasets:
        datasets.append(dataset)  # data inside a dataset needs it mounted (docs/yolo.md)
    if not datasets:
        imported.spec["spec"].pop("datasets")
    return {"yolo": yolo}


def _drop_default_device(yolo: dict[str, Any], gpus_per_worker: int) -> None:
    """The device list dualtrack derives (``0,1,..`` per GPU of a worker, ``cpu`` without GPUs) is left out."""
    derived = ",".join(str(i) for i in range(gpus_per_worker)) if gpus_per_worker else "cpu"
    if str(yolo.get("device")) == derived:
        yolo.pop("device")
    elif "device" in yolo:
        yolo["device"] = str(yolo["device"])


def _drop_broker_run(yolo: dict[str, Any]) -> None:
    """Undo what dualtrack adds when it renders a YOLO job (docs/yolo.md): ``data`` inside a dataset resolved to
    ``/datasets/<data>``, and the run directory it chose, ``project=/checkpoints/<tenant> name=<job id>
    exist_ok=True``. Rendering the imported spec adds them again, so nothing is lost."""
    data = str(yolo.get("data", ""))
    prefix = f"{DATASET_MOUNT}/"
    if data.startswith(prefix) and yolo_data_dataset(data[len(prefix):]) is not None:
        yolo["data"] = data[len(prefix):]
    args = yolo.get("args", {})
    project, name = str(yolo.get("project", "")), str(yolo.get("name", ""))
    if args.get("exist_ok") is True and project.startswith(f"{CHECKPOINT_MOUNT}/") and JOB_ID.match(name):
        for key in ("project", "name"):
            yolo.pop(key)
        args.pop("exist_ok")
        if not args:
            yolo.pop("args")


def _ultralytics(words: list[str], imported: Imported, where: str, gpus: int) -> dict[str, Any] | None:
    """``yolo [task] mode key=value ...`` (ultralytics CLI). None when it is not a training run."""
    positional = [w for w in words if "=" not in w]
    task = next((w for w in positional if w in YOLO_TASKS), "detect")
    mode = next((w for w in positional if w in YOLO_MODES), None)
    if mode != "train":
        return None
    yolo: dict[str, Any] = {"task": task, "mode": "train"}
    args: dict[str, Any] = {}
    for word in words:
        if "=" not in word:
            if word not in (task, mode):
                imported.warn(where, f"yolo argument {word!r} is not key=value; not carried over")
            continue
        key, value = word.split("=", 1)
        if key in YOLO_FIELDS:
            yolo[key] = value if key in ("model", "data", "device", "project", "name") else scalar(value)
        else:
            args[key] = scalar(value)
    if args:
        yolo["args"] = args
    _drop_broker_run(yolo)
    _drop_default_device(yolo, gpus)
    for required in ("model", "data"):
        if required not in yolo:
            yolo[required] = "yolov8n.pt" if required == "model" else "coco8.yaml"
            imported.warn(f"spec.yolo.{required}", f"not given; ultralytics' default {yolo[required]} assumed")
    return yolo


def _yolov5(script: str, words: list[str], imported: Imported, where: str, gpus: int) -> dict[str, Any]:
    """YOLOv5's ``python train.py --img 640 --batch 64 ...`` -> the same run through ultralytics' yolo CLI."""
    yolo: dict[str, Any] = {"task": "detect", "mode": "train"}
    i = 0
    while i < len(words):
        word = words[i]
        key, _, value = word.partition("=")
        target = V5_OPTIONS.get(key)
        takes_value = target is not None and not value
        if takes_value and i + 1 < len(words):
            value = words[i + 1]
            i += 1
        if target is not None:
            yolo[target] = value if target in ("model", "data", "device", "project", "name") else scalar(value)
        elif key == "--resume":
            yolo["resume"] = True
        else:
            imported.warn(where, f"{script} option {word!r} has no ultralytics equivalent; not carried over")
        i += 1
    if "model" not in yolo:
        yolo["model"] = "yolov5s.pt"
        imported.warn("spec.yolo.model", "train.py names no --weights/--cfg; its default yolov5s.pt assumed")
    if "data" not in yolo:
        yolo["data"] = "coco128.yaml"
        imported.warn("spec.yolo.data", "train.py names no --data; its default coco128.yaml assumed")
    imported.warn("spec.yolo", f"YOLOv5's {script} becomes ultralytics' `yolo detect train` (same model, data and "
                               "hyper-parameters); the image must provide the ultralytics package")
    _drop_default_device(yolo, gpus)
    return yolo
