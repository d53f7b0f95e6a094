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

``from_mapping`` raises ``ValueError`` naming the bad key (``images.maxBytes: ...``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dualtrack.broker.domain.quantity import parse_memory

BUILDERS = ("auto", "apptainer", "singularity", "skopeo-umoci")
SOURCE_TRANSPORTS = ("oci:", "docker-archive:", "oci-archive:")
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "dualtrack" / "sif"
DEFAULT_MAX_BYTES = 100 * 1024**3

_KEYS = (
    "cacheDir",
    "maxBytes",
    "builder",
    "inspectTimeoutSeconds",
    "mirrors",
    "sources",
    "workDir",
    "conversionBytesPerSecond",
)


@dataclass(frozen=True)
class ImageSettings:
    cache_dir: Path = DEFAULT_CACHE_DIR
    max_bytes: int = DEFAULT_MAX_BYTES
    builder: str = "auto"
    inspect_timeout_seconds: float = 20.0
    mirrors: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    conversion_bytes_per_second: float = 50e6

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any] | None, prefix: str = "images") -> ImageSettings:
        """Build settings from the ``images:`` mapping; ``None`` or ``{}`` gives the defaults."""
        m = m or {}
        if not isinstance(m, Mapping):
            raise ValueError(f"{prefix}: must be a mapping, not {type(m).__name__}")
        unknown = sorted(set(m) - set(_KEYS))
        if unknown:
            raise ValueError(f"{prefix}.{unknown[0]}: unknown key; known keys are {', '.join(_KEYS)}")
        kwargs: dict[str, Any] = {}
        if "cacheDir" in m:
            kwargs["cache_dir"] = _path(m["cacheDir"], f"{prefix}.cacheDir")
        if "workDir" in m:
            kwargs["work_dir"] = _path(m["workDir"], f"{prefix}.workDir")
        if "maxBytes" in m:
            kwargs["max_bytes"] = parse_bytes(m["maxBytes"], f"{prefix}.maxBytes")
        if "builder" in m:
            if m["builder"] not in BUILDERS:
                raise ValueError(f"{prefix}.builder: {m['builder']!r} is not one of {', '.join(BUILDERS)}")
            kwargs["builder"] = m["builder"]
        if "inspectTimeoutSeconds" in m:
            kwargs["inspect_timeout_seconds"] = _positive(m["inspectTimeoutSeconds"], f"{prefix}.inspectTimeoutSeconds")
        if "conversionBytesPerSecond" in m:
            kwargs["conversion_bytes_per_second"] = _positive(
                m["conversionBytesPerSecond"], f"{prefix}.conversionBytesPerSecond"
            )
        if "mirrors" in m:
            kwargs["mirrors"] = _string_map(m["mirrors"], f"{prefix}.mirrors")
        if "sources" in m:
            sources = _string_map(m["sources"], f"{prefix}.sources")
            for ref, source in sources.items():
                transport, _, location = source.partition(":")
                if f"{transport}:" not in SOURCE_TRANSPORTS or not location:
                    raise ValueError(
                        f"{prefix}.sources[{ref}]: {source!r} must be oci:/path[:tag], "
                        "docker-archive:/path.tar or oci-archive:/path.tar"
                    )
            kwargs["sources"] = sources
        return cls(**kwargs)


def parse_bytes(value: Any, where: str) -> int:
    """An int number of bytes or a Kubernetes-style quantity (``200Gi``); ValueError naming ``where``."""
    if isinstance(value, bool):
        raise ValueError(f"{where}: must be a number of bytes such as 100Gi, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value) if value.isdigit() else parse_memory(value)
        except ValueError as e:
            raise ValueError(f"{where}: {value!r} is not a byte size such as 100Gi ({e})") from None
    else:
        raise ValueError(f"{where}: must be a number of bytes such as 100Gi, not {type(value).__name__}")
    if number <= 0:
        raise ValueError(f"{where}: must be > 0 bytes")
    return number


def _path(value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: must be a non-empty path string")
    return Path(value).expanduser()


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{where}: must be a positive number, not {value!r}")
    return float(value)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a mapping of strings")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str) or not k or not v:
            raise ValueError(f"{where}[{k}]: keys and values must be non-empty strings")
        out[k] = v
    return out
