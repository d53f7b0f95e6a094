"""The unified job spec: ``apiVersion: dualtrack/v1``, ``kind: TrainingJob`` (design section 2).

One YAML document, the same message in proto. Field names follow Kubernetes conventions (camelCase); the
``yolo`` block uses ultralytics' own argument names. Every model forbids unknown fields, so a typo such as
``gpusPerWroker`` is an error and never silently ignored.

Entry points:
- ``parse_spec_yaml(text)`` / ``parse_spec(data)`` return a ``JobSpec`` or raise ``SpecError`` carrying *all*
  problems of the document at once, each with its field path (``spec.resources.workers: must be >= 1``).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dualtrack.broker.domain.limits import (
    MAX_ARG_BYTES,
    MAX_COMMAND_LINE_BYTES,
    MAX_MEMORY_BYTES,
    MAX_TIME_LIMIT_SECONDS,
    quote,
    utf8_size,
)
from dualtrack.broker.domain.quantity import parse_duration, parse_memory
from dualtrack.broker.domain.spec_errors import FieldIssue as FieldIssue
from dualtrack.broker.domain.spec_errors import SpecError as SpecError
from dualtrack.broker.domain.spec_yaml import load_spec_document

API_VERSION = "dualtrack/v1"
KIND = "TrainingJob"

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A Docker/OCI reference: [host[:port]/]path[:tag][@digest]. No whitespace or shell metacharacters.
IMAGE_REF = re.compile(
    r"^(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
GPU_TYPE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
MAX_IMAGE_REF = 512  # registry host, a 255-character name, a 128-character tag and a digest fit
MAX_NAME = 40  # leaves room for the backend name dt-<id>-<attempt> plus a suffix inside 63 characters

PRIORITY_CLASSES: Mapping[str, int] = {"low": 10, "normal": 100, "high": 1000}

# Ultralytics train arguments a user may set in yolo.args (field names of ultralytics' cfg/default.yaml).
# The ones with their own typed field in YoloSpec are not repeated here.
YOLO_EXTRA_ARGS = frozenset({
    "time", "patience", "save", "save_period", "cache", "pretrained", "optimizer", "verbose", "seed",
    "deterministic", "single_cls", "rect", "cos_lr", "close_mosaic", "amp", "fraction", "profile", "freeze",
    "multi_scale", "compile", "overlap_mask", "mask_ratio", "dropout", "val", "split", "save_json", "conf",
    "iou", "max_det", "plots", "lr0", "lrf", "momentum", "weight_decay", "warmup_epochs", "warmup_momentum",
    "warmup_bias_lr", "box", "cls", "dfl", "pose", "kobj", "nbs", "hsv_h", "hsv_s", "hsv_v", "degrees",
    "translate", "scale", "shear", "perspective", "flipud", "fliplr", "bgr", "mosaic", "mixup", "cutmix",
    "copy_paste", "copy_paste_mode", "auto_augment", "erasing", "cfg", "exist_ok",
})
NO_CONTROL_CHARS = re.compile(r"^[^\x00-\x1f\x7f]*$")
# Why a YOLO job has one worker (docs/yolo.md#multi-worker): read from ultralytics' trainer.
MULTI_WORKER_YOLO = (
    "a YOLO job runs on one worker: ultralytics (engine/trainer.py) takes its DDP world size from the local "
    "device list and trains each node on its own, so it cannot form one process group across workers; use "
    "workers: 1 with several GPUs (ultralytics' own DDP, device=0,1,..) or spec.command with your own launcher"
)


def yolo_data_dataset(data: str) -> str | None:
    """The dataset a relative ``yolo.data`` such as ``weld-defects/data.yaml`` lives in (its first component),
    or None for an absolute path or a bare file name (an ultralytics built-in such as ``coco8.yaml``)."""
    if data.startswith("/") or "/" not in data:
        return None
    return data.split("/", 1)[0]


class FieldValueError(ValueError):
    """Raised by a model-level check to blame one field below the model (``field`` is relative)."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


def _priority(value: Any) -> Any:
    if isinstance(value, str):
        if value not in PRIORITY_CLASSES:
            raise ValueError(f"{quote(value)} is not a number or one of {', '.join(PRIORITY_CLASSES)}")
        return PRIORITY_CLASSES[value]
    if isinstance(value, bool):
        raise ValueError("must be a number or one of low, normal, high")
    return value


def _duration(value: Any) -> Any:
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds > MAX_TIME_LIMIT_SECONDS:
        raise ValueError(f"must be at most {MAX_TIME_LIMIT_SECONDS // 86400} days")
    return seconds


def _memory(value: Any) -> Any:
    size = parse_memory(value)
    if size > MAX_MEMORY_BYTES:
        raise ValueError("must be at most 1Pi")
    return size


def _not_bool(value: Any) -> Any:
    """A count is a number: YAML's true/false are refused instead of read as 1/0."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not true/false")
    return value


def _check_arg(value: str, what: str) -> None:
    """An exec argument or environment string: no NUL byte, at most MAX_ARG_BYTES (the kernel's limit)."""
    if "\x00" in value:
        raise ValueError(f"{what} may not contain NUL bytes")
    if len(value) > MAX_ARG_BYTES // 4 and utf8_size(value) > MAX_ARG_BYTES:
        raise ValueError(f"{what} is {utf8_size(value)} bytes; the kernel runs at most {MAX_ARG_BYTES}")


Duration = Annotated[int, BeforeValidator(_duration)]
Memory = Annotated[int, BeforeValidator(_memory)]
Priority = Annotated[int, Field(ge=0, le=1_000_000), BeforeValidator(_priority)]
Count = Annotated[int, BeforeValidator(_not_bool)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=False)


class Track(StrEnum):
    AUTO = "auto"
    KUBERNETES = "kubernetes"
    SLURM = "slurm"


class TopologyTier(StrEnum):
    NODE = "node"
    SWITCH = "switch"
    ANY = "any"


class TopologyMode(StrEnum):
    HARD = "hard"
    SOFT = "soft"


def _dns_label(value: str, what: str) -> str:
    if len(value) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters (got {len(value)})")
    if not DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"{what} {quote(value)} is not a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


class Metadata(_Model):
    name: str
    tenant: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, "name")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v: str) -> str:
        return _dns_label(v, "tenant")

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not LABEL_KEY.fullmatch(key) or len(key) > 253:
                raise ValueError(f"label key {quote(key)} is not a valid Kubernetes label key")
            if not LABEL_VALUE.fullmatch(value) or len(value) > 63:
                raise ValueError(f"label value {quote(value)} of {quote(key)} is not a valid Kubernetes label value")
        return dict(sorted(v.items()))


Scalar = str | int | float | bool


class YoloSpec(_Model):
    """An ultralytics training run; rendered to ``yolo <task> <mode> key=value ...`` (see domain.launch)."""

    task: Literal["detect", "segment", "classify", "pose", "obb"] = "detect"
    mode: Literal["train"] = "train"
    model: str
    data: str
    epochs: Count = Field(default=100, ge=1, le=100_000)
    imgsz: Count = Field(default=640, ge=32, le=8192)
    batch: int | float = 16
    workers: Count = Field(default=8, ge=0, le=256, description="dataloader workers per rank (ultralytics)")
    device: str | None = None
    resume: bool | str = False
    project: str | None = None
    name: str | None = None
    args: dict[str, Scalar] = Field(default_factory=dict)

    @field_validator("model", "data", "project", "name", "device")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        if v is not None and (not v or not NO_CONTROL_CHARS.fullmatch(v)):
            raise ValueError("must be a non-empty string without control characters")
        if v is not None:
            _check_arg(v, "the value")
        return v

    @field_validator("resume")
    @classmethod
    def _resume(cls, v: bool | str) -> bool | str:
        if isinstance(v, str):
            if not v or not NO_CONTROL_CHARS.fullmatch(v):
                raise ValueError("must be true, false or a checkpoint path without control characters")
            _check_arg(v, "the path")
        return v

    @field_validator("batch")
    @classmethod
    def _batch(cls, v: int | float) -> int | float:
        if isinstance(v, bool):
            raise ValueError("must be a number")
        if isinstance(v, int) and (v == -1 or v >= 1):
            return v
        if isinstance(v, float) and 0.0 < v < 1.0:  # NaN fails both comparisons
            return v
        raise ValueError("must be -1 (AutoBatch), an integer >= 1, or a fraction between 0 and 1")

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, Scalar]) -> dict[str, Scalar]:
        for key, value in v.items():
            if key not in YOLO_EXTRA_ARGS:
                raise ValueError(f"{quote(key)} is not an ultralytics train argument dualtrack passes through")
            if isinstance(value, str):
                if not NO_CONTROL_CHARS.fullmatch(value):
                    raise ValueError(f"value of {key!r} has control characters")
                _check_arg(f"{key}={value}", f"value of {key!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"value of {key!r} must be a finite number")
        return dict(sorted(v.items()))


class Resources(_Model):
    workers: Count = Field(default=1, ge=1, le=4096)
    gpus_per_worker: Count = Field(default=1, ge=0, le=64, alias="gpusPerWorker")
    gpu_type: str | None = Field(default=None, alias="gpuType")
    cpus_per_worker: Count = Field(default=4, ge=1, le=1024, alias="cpusPerWorker")
    memory_per_worker: Memory = Field(default=16 * 1024**3, alias="memoryPerWorker")

    @field_validator("gpu_type")
    @classmethod
    def _gpu_type(cls, v: str | None) -> str | None:
        if v is not None and not GPU_TYPE.fullmatch(v):
            raise ValueError("must be a lowercase GPU model such as a100 or h100")
        return v

    @property
    def total_gpus(self) -> int:
        return self.workers * self.gpus_per_worker


class Gang(_Model):
    min_available: Count | None = Field(default=None, ge=1, alias="minAvailable")


class Topology(_Model):
    tier: TopologyTier = TopologyTier.ANY
    mode: TopologyMode = TopologyMode.SOFT


class PlacementRequest(_Model):
    track: Track = Track.AUTO
    backends: list[str] = Field(default_factory=list)

    @field_validator("backends")
    @classmethod
    def _backends(cls, v: list[str]) -> list[str]:
        for name in v:
            _dns_label(name, "backend")
        return v


class Retry(_Model):
    max_attempts: Count = Field(default=3, ge=1, le=20, alias="maxAttempts")
    on_user_error: bool = Field(default=False, alias="onUserError")


class Reroute(_Model):
    pending_timeout: Duration | None = Field(default=None, alias="pendingTimeout")


# One instance of each block whose fields are all immutable serves every spec that leaves the block out (the
# models are frozen): building and validating four of them per spec was a third of parse_spec's time.
_NO_GANG, _ANY_TOPOLOGY, _DEFAULT_RETRY, _NO_REROUTE = Gang(), Topology(), Retry(), Reroute()


class TrainingSpec(_Model):
    image: str
    yolo: YoloSpec | None = None
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    gang: Gang = Field(default_factory=lambda: _NO_GANG)
    topology: Topology = Field(default_factory=lambda: _ANY_TOPOLOGY)
    datasets: list[str] = Field(default_factory=list)
    placement: PlacementRequest = Field(default_factory=PlacementRequest)
    priority: Priority = 100
    time_limit: Duration = Field(default=24 * 3600, alias="timeLimit")
    retry: Retry = Field(default_factory=lambda: _DEFAULT_RETRY)
    reroute: Reroute = Field(default_factory=lambda: _NO_REROUTE)

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if len(v) > MAX_IMAGE_REF:
            raise ValueError(f"is {len(v)} characters; an image reference has at most {MAX_IMAGE_REF}")
        if not IMAGE_REF.fullmatch(v):
            raise ValueError(f"{quote(v)} is not a Docker/OCI image reference such as ultralytics/ultralytics:8.3.40")
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            if not v or not v[0]:
                raise ValueError("must name a program to run")
            for index, arg in enumerate(v):
                _check_arg(arg, f"argument {index}")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not ENV_NAME.fullmatch(key):
                raise ValueError(f"{quote(key)} is not a valid environment variable name")
            _check_arg(f"{key}={value}", f"{key}=value")
        return dict(sorted(v.items()))

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v: list[str]) -> list[str]:
        for name in v:
            _dns_label(name, "dataset")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TrainingSpec:
        if (self.yolo is None) == (self.command is None):
            raise ValueError("exactly one of spec.yolo or spec.command must be given")
        words = _command_words(self)
        size = _command_line_bound(words)
        if size > MAX_COMMAND_LINE_BYTES and (size := _command_line_size(words)) > MAX_COMMAND_LINE_BYTES:
            raise FieldValueError("command" if self.command is not None else "yolo",
                                  f"the command line is {size} bytes once quoted; at most "
                                  f"{MAX_COMMAND_LINE_BYTES} fit the one argument a Slurm task runs it from")
        if self.yolo is not None and self.resources.workers > 1:
            raise FieldValueError("resources.workers", MULTI_WORKER_YOLO)
        if self.yolo is not None:
            dataset = yolo_data_dataset(self.yolo.data)
            if dataset is not None and dataset not in self.datasets:
                raise FieldValueError(
                    "yolo.data", f"names a file in dataset {dataset!r}, which spec.datasets does not list "
                    f"(add it there, so that it is mounted at /datasets/{dataset})")
        gang = self.gang.min_available
        if gang is not None and gang > self.resources.workers:
            raise FieldValueError(
                "gang.minAvailable", f"{gang} exceeds spec.resources.workers ({self.resources.workers})"
            )
        return self

    @property
    def priority_class(self) -> str:
        """The named class of the priority: the highest class whose value it reaches."""
        reached = [name for name, value in PRIORITY_CLASSES.items() if value <= self.priority]
        return max(reached, key=lambda n: PRIORITY_CLASSES[n]) if reached else "low"

    @property
    def min_available(self) -> int:
        return self.gang.min_available or self.resources.workers


def _command_words(spec: TrainingSpec) -> list[str]:
    """The words of the command line (for YOLO jobs an upper bound: every value as key=value)."""
    if spec.command is not None:
        return list(spec.command)
    assert spec.yolo is not None
    y = spec.yolo
    values = [y.model, y.data, y.device, y.project, y.name, y.resume, *y.args.values()]
    return [f"xxxxxxxxxxxxxxx={v}" for v in values if isinstance(v, str)]


def _command_line_size(words: list[str]) -> int:
    """Bytes of the shell-quoted command line."""
    return sum(utf8_size(shlex.quote(w)) + 1 for w in words)


def _command_line_bound(words: list[str]) -> int:
    """At least ``_command_line_size(words)``, without quoting: quoting makes a word at most 2 + 5 times its
    characters long (each ' becomes '"'"'), and UTF-8 takes at most 4 bytes a character."""
    return sum(4 * (2 + 5 * len(w)) + 1 for w in words)


class JobSpec(_Model):
    """The whole document a user submits."""

    api_version: Literal["dualtrack/v1"] = Field(alias="apiVersion")
    kind: Literal["TrainingJob"]
    metadata: Metadata
    spec: TrainingSpec

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-able form (camelCase, defaults filled), stable for hashing and storage."""
        return self.model_dump(by_alias=True, mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _issue_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in {"int", "float", "str", "bool", "list[str]"} or item.startswith(("function-", "json-")):
            continue  # pydantic's union-branch markers are not part of the user's path
        else:
            name = item if len(item) <= 64 else f"{item[:64]}..."  # a 20 KB key stays a short path
            parts.append(("." if parts else "") + name)
    return "".join(parts)


def _issue_message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    ctx = err.get("ctx") or {}
    friendly = {
        "greater_than_equal": "must be >= {ge}",
        "greater_than": "must be > {gt}",
        "less_than_equal": "must be <= {le}",
        "less_than": "must be < {lt}",
        "int_parsing": "must be an integer",
        "int_type": "must be an integer",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "string_type": "must be a string",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "literal_error": "must be one of {expected}",
        "enum": "must be one of {expected}",
    }
    if kind in friendly:
        try:
            return friendly[kind].format(**ctx)
        except (KeyError, IndexError):
            pass
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


def issues_from_validation(error: ValidationError) -> list[FieldIssue]:
    """Turn pydantic's errors into field-path issues, one per path (union noise folded away)."""
    seen: dict[str, FieldIssue] = {}
    for err in error.errors():
        path = _issue_path(tuple(err["loc"]))
        message = _issue_message(err)
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldValueError):
            path = f"{path}.{cause.field}" if path else cause.field
            message = cause.message
        seen.setdefault(path, FieldIssue(path, message))
    return list(seen.values())


def parse_spec(data: Any) -> JobSpec:
    """Validate a decoded document. Raises SpecError listing every problem."""
    if not isinstance(data, dict):
        raise SpecError([FieldIssue("", "a job spec must be a YAML mapping with apiVersion, kind, metadata, spec")])
    if any(not isinstance(key, str) for key in data):
        raise SpecError([FieldIssue("", "every key of a job spec must be a string")])
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(issues_from_validation(exc)) from None


def parse_spec_yaml(text: str) -> JobSpec:
    """Parse and validate one YAML document within the limits of docs/spec.md. Raises SpecError (malformed
    YAML included, with line:column)."""
    return parse_spec(load_spec_document(text))
