"""``ImageSettings``: the broker config's ``images:`` mapping, validated.

Keys (camelCase, all optional)::

    images:
      cacheDir: /shared/sif        # the Slurm backend's imageDir; default ~/.cache/dualtrack/sif
      maxBytes: 200Gi              # LRU eviction bound (bytes or a Ki/Mi/Gi/Ti quantity); default 100Gi
      builder: auto                    # auto | apptainer | singularity | skopeo-umoci
      inspectTimeoutSeconds: 20        # bound of one registry look-up
      mirrors: {docker.io/: mirror.local:5000/dockerhub/}   # prefix -> replacement, longest prefix wins
      sources: {ultralytics/ultralytics:8.3.40: "oci:/srv/images/ultra:8.3.40"}   # air-gapped sources
      workDir: /var/tmp                # scratch space for unpacking; default the system temp dir
      conversionBytesPerSecond: 50000000   # initial throughput guess for conversion-time estimates

Callers: ``broker.context`` and ``dualtrack image`` (``ImageSettings.from_mapping``) and, when the configuration is
loaded, ``broker.config_sections``. ``from_mapping`` raises ``SettingsError`` (a ValueError) listing every bad key
with its path (``images.maxBytes: ...``); docs/images.md section 4 is the reference.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictStr, field_validator

from dualtrack.broker.domain.quantity import parse_memory
from dualtrack.broker.domain.settings_model import NonEmptyStr, SettingsModel, StrictNumber, validate_block

BUILDERS = ("auto", "apptainer", "singularity", "skopeo-umoci")
SOURCE_TRANSPORTS = ("oci:", "docker-archive:", "oci-archive:")
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "dualtrack" / "sif"
DEFAULT_MAX_BYTES = 100 * 1024**3


def byte_count(value: Any) -> int:
    """An int number of bytes or a Kubernetes-style quantity (``200Gi``), > 0; ValueError saying why."""
    if isinstance(value, bool):
        raise ValueError("must be a number of bytes such as 100Gi, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value) if value.isdigit() else parse_memory(value)
        except ValueError as e:
            raise ValueError(f"{value!r} is not a byte size such as 100Gi ({e})") from None
    else:
        raise ValueError(f"must be a number of bytes such as 100Gi, not {type(value).__name__}")
    if number <= 0:
        raise ValueError("must be > 0 bytes")
    return number


def parse_bytes(value: Any, where: str) -> int:
    """``byte_count`` with a message naming ``where`` (a key or a command-line option)."""
    try:
        return byte_count(value)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty path string")
    return Path(value).expanduser()


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"must be a positive number, not {value!r}")
    return float(value)


def _source(value: str) -> str:
    transport, _, location = value.partition(":")
    if f"{transport}:" not in SOURCE_TRANSPORTS or not location:
        raise ValueError(f"{value!r} must be oci:/path[:tag], docker-archive:/path.tar or oci-archive:/path.tar")
    return value


PathValue = Annotated[Path, BeforeValidator(_path)]
Positive = Annotated[StrictNumber, AfterValidator(_positive)]


class ImageSettings(SettingsModel):
    """The ``images:`` block: where SIFs are cached, how they are built, where images come from."""

    cache_dir: PathValue = DEFAULT_CACHE_DIR
    max_bytes: Annotated[int, BeforeValidator(byte_count)] = DEFAULT_MAX_BYTES
    builder: Literal["auto", "apptainer", "singularity", "skopeo-umoci"] = "auto"
    inspect_timeout_seconds: Positive = 20.0
    mirrors: dict[NonEmptyStr, NonEmptyStr] = Field(default_factory=dict)  # prefix -> replacement
    sources: dict[NonEmptyStr, Annotated[StrictStr, AfterValidator(_source)]] = Field(default_factory=dict)
    work_dir: PathValue = Field(default_factory=lambda: Path(tempfile.gettempdir()))
    conversion_bytes_per_second: Positive = 50e6

    @field_validator("mirrors", "sources", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError("must be a mapping of strings")
        return value

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None, prefix: str = "images") -> ImageSettings:
        """Build settings from the ``images:`` mapping; ``None`` or ``{}`` gives the defaults. Raises
        SettingsError listing every bad key under ``prefix``."""
        return validate_block(cls, m or {}, prefix)
