"""Validated settings of one Slurm backend (``backends[i].settings`` in the broker config; docs/slurm.md).

Called by ``adapters.slurm.from_config`` and, when the configuration is loaded, by ``broker.config_sections``.
``parse_settings(name, raw, prefix)`` returns a frozen ``SlurmSettings`` or raises ``SettingsError`` (a
ValueError) listing every problem with its path, e.g. ``backends[slurm-local].settings.partition: ...``.
Keys are camelCase; unknown keys are errors. String values that end up in ``#SBATCH`` lines or in commands
(partition, qos, accounts, GRES types, paths) are restricted to safe characters (``settings_parts``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictInt, StrictStr, field_validator, model_validator

from dualtrack.adapters.slurm.settings_parts import (
    AUTO_VERSION,
    DEFAULT_SIF_RUNNER,
    REST_API_VERSIONS,
    SAFE_PATH,
    SLURM_NAME,
    ContainerSettings,
    RestSettings,
    SafePath,
    Seconds,
    SshSettings,
)
from dualtrack.broker.domain.settings_model import (
    FieldValueError,
    NonEmptyStr,
    SettingsModel,
    matches,
    one_of,
    validate_block,
)

__all__ = [
    "AUTO_VERSION", "DEFAULT_DATASET_MOUNT", "DEFAULT_SIF_RUNNER", "REST_API_VERSIONS", "SAFE_PATH", "SLURM_NAME",
    "ContainerSettings", "RestSettings", "SlurmSettings", "SshSettings", "parse_settings",
]

TRANSPORTS = ("cli", "ssh", "rest")
RUNTIMES = ("apptainer", "singularity", "sif-bwrap", "none")
DEFAULT_DATASET_MOUNT = "/datasets"
PRIORITY_CLASS_KEYS = ("low", "normal", "high")  # the spec's named priority classes (docs/spec.md)
NICE_LIMIT = 2147483645  # sbatch --nice bound; negative values need a Slurm operator or administrator

PriorityClass = Annotated[StrictStr, AfterValidator(one_of(*PRIORITY_CLASS_KEYS))]  # low/normal/high
Partition = Annotated[StrictStr, AfterValidator(matches(SLURM_NAME, "a Slurm partition name"))]
Qos = Annotated[StrictStr, AfterValidator(matches(SLURM_NAME, "a Slurm QOS name"))]
Account = Annotated[StrictStr, AfterValidator(matches(SLURM_NAME, "a Slurm account name"))]
GresType = Annotated[StrictStr, AfterValidator(matches(SLURM_NAME, "a Slurm GRES type"))]
Nice = Annotated[StrictInt, Field(ge=-NICE_LIMIT, le=NICE_LIMIT)]


class SlurmSettings(SettingsModel):
    """Everything a Slurm backend reads from its ``settings:`` block (defaults: docs/slurm.md)."""

    transport: Literal["cli", "ssh", "rest"] = "cli"
    partition: Partition = "gpu"
    qos: Qos | None = None
    accounts: dict[NonEmptyStr, Account] = Field(default_factory=dict)  # tenant -> account
    gpu_types: dict[NonEmptyStr, GresType] = Field(default_factory=dict)  # spec gpuType -> GRES type
    output_dir: SafePath = "/tmp"
    slurm_conf: SafePath | None = None
    ssh: SshSettings | None = None
    rest: RestSettings | None = None
    # validated like a given block: the default runtime (apptainer) needs container.imageDir
    container: ContainerSettings = Field(default_factory=dict, validate_default=True)
    datasets: dict[NonEmptyStr, SafePath] = Field(default_factory=dict)  # dataset name -> host folder
    master_port: StrictInt = Field(default=29500, ge=1024, le=65535)
    command_timeout_s: Seconds = Field(default=30.0, alias="commandTimeout")
    priority_qos: dict[PriorityClass, Qos] = Field(default_factory=dict)  # low/normal/high -> QoS (overrides qos)
    priority_nice: dict[PriorityClass, Nice] = Field(default_factory=dict)  # low/normal/high -> --nice value
    # host folder bound read-write at /checkpoints; YOLO run dirs live below it (docs/yolo.md#checkpoints)
    checkpoint_root: SafePath | None = None

    @field_validator("checkpoint_root", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return value or None

    @model_validator(mode="after")
    def _transport_settings(self) -> SlurmSettings:
        if self.transport == "ssh" and self.ssh is None:
            raise FieldValueError("ssh", "required when transport is ssh")
        if self.transport == "rest" and self.rest is None:
            raise FieldValueError("rest", "required when transport is rest")
        return self


def parse_settings(backend: str, raw: Any, prefix: str | None = None) -> SlurmSettings:
    """Validate ``raw``. Raises SettingsError listing every problem, each path under ``prefix`` (default
    ``backends[<backend>].settings``)."""
    return validate_block(SlurmSettings, raw, f"backends[{backend}].settings" if prefix is None else prefix)
