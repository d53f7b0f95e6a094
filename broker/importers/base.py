"""What an importer returns: the unified spec document it could build, and one warning per thing it could not
carry over (docs/import.md). Importers are pure: text in, ``Imported`` out; nothing is contacted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PLACEHOLDER_IMAGE = "change-me:latest"


@dataclass(frozen=True)
class ImportWarning:
    """``field``: the spec path that is missing, guessed or defaulted (``spec.image``), or the source item that
    was dropped (``#SBATCH --output``, ``spec.tasks[0].template.spec.volumes[cache]``). ``message``: why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class Imported:
    """A unified spec document (camelCase, as in the YAML) and the warnings of its import."""

    spec: dict[str, Any]
    warnings: list[ImportWarning] = field(default_factory=list)
    source_kind: str = ""  # "volcano" | "sbatch"

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(ImportWarning(where, message))

    @property
    def warned_fields(self) -> set[str]:
        return {w.field for w in self.warnings}


def empty_spec(name: str) -> dict[str, Any]:
    return {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"resources": {}}}


def dns_name(raw: str, imported: Imported, where: str) -> str:
    """A DNS-1123 label from ``raw`` (lowercase, ``_``/``.`` -> ``-``, at most 63); a warning when it changed."""
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:63].strip("-") or "imported-job"
    if name != raw:
        imported.warn(where, f"{raw!r} is not a DNS-1123 label; named {name!r}")
    return name


def format_memory(size: int) -> str:
    """Bytes as the shortest exact quantity the spec reads (``64Gi``, ``512Mi``, plain bytes)."""
    for suffix, unit in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def format_seconds(seconds: int) -> str:
    """A duration the spec reads: ``48h``, ``30m``, ``90s``, ``1h30m``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


GPU_TYPES = ("h200", "h100", "h800", "a100", "a800", "a40", "a30", "a10", "l40s", "l40", "l4", "v100", "t4",
             "rtx-4090", "rtx-3090", "mi300x", "mi250x")


def gpu_type_from_product(product: str) -> str | None:
    """``NVIDIA-A100-SXM4-80GB`` -> ``a100``: the first known GPU model named in a product label value."""
    lowered = product.lower().replace("_", "-")
    for model in GPU_TYPES:
        if re.search(rf"(^|[^a-z0-9]){re.escape(model)}([^a-z0-9]|$)", lowered):
            return model
    return None
