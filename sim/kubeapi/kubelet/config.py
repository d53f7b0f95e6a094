"""The ``kubelet:`` section of the simulator's cluster file (the nodes' ``run:`` key is read by
``sim.kubeapi.config``).

    kubelet:
      stateDir: /var/tmp/dualtrack-kubesim/kubelet   # logs, per-pod files, unpacked images (default: a temp dir)
      imageLayouts: [/srv/oci/yolo]                  # OCI layouts searched for a pod's image (digest, else tag)
      imageCache: /var/tmp/kubesim-rootfs            # unpacked root filesystems, one per digest
      claims: {weld-defects: /srv/datasets/weld-defects, checkpoints: /srv/checkpoints}  # PVC -> host folder
      gracePeriodSeconds: 30                         # SIGTERM -> SIGKILL when the pod does not say

Caller: ``sim.kubeapi.config.load_cluster`` and tests. ``parse_kubelet(raw)`` raises ValueError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUN_SIMULATED, RUN_PROCESS = "simulated", "process"
RUN_MODES = (RUN_SIMULATED, RUN_PROCESS)
KNOWN_KEYS = {"stateDir", "imageLayouts", "imageCache", "claims", "gracePeriodSeconds"}


@dataclass
class KubeletConfig:
    state_dir: Path | None = None  # None: the simulator makes a temporary folder and removes it at stop
    image_layouts: list[Path] = field(default_factory=list)
    image_cache: Path | None = None  # None: <stateDir>/images
    claims: dict[str, Path] = field(default_factory=dict)
    grace_period_seconds: float = 30.0


def _path(value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError(f"{where}: must be an absolute path")
    return Path(value)


def parse_kubelet(raw: Any, where: str = "kubelet") -> KubeletConfig:
    """The validated section (see the module docstring); ``None`` gives the defaults."""
    if raw is None:
        return KubeletConfig()
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")
    out = KubeletConfig()
    if raw.get("stateDir") is not None:
        out.state_dir = _path(raw["stateDir"], f"{where}.stateDir")
    if raw.get("imageCache") is not None:
        out.image_cache = _path(raw["imageCache"], f"{where}.imageCache")
    layouts = raw.get("imageLayouts") or []
    if not isinstance(layouts, list):
        raise ValueError(f"{where}.imageLayouts: must be a list of absolute paths")
    out.image_layouts = [_path(v, f"{where}.imageLayouts[{i}]") for i, v in enumerate(layouts)]
    claims = raw.get("claims") or {}
    if not isinstance(claims, Mapping):
        raise ValueError(f"{where}.claims: must map a PVC claim name to an absolute host folder")
    out.claims = {str(k): _path(v, f"{where}.claims.{k}") for k, v in claims.items()}
    grace = raw.get("gracePeriodSeconds", out.grace_period_seconds)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ValueError(f"{where}.gracePeriodSeconds: must be a non-negative number")
    out.grace_period_seconds = float(grace)
    return out


def parse_run(value: Any, where: str) -> str:
    """A node entry's ``run:`` value."""
    if value is None:
        return RUN_SIMULATED
    if value not in RUN_MODES:
        raise ValueError(f"{where}.run: must be one of {', '.join(RUN_MODES)}, not {value!r}")
    return str(value)
