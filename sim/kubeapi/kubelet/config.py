"""The ``kubelet:`` section of the simulator's cluster file (the nodes' ``run:`` key is read by
``sim.kubeapi.config``).

    kubelet:
      stateDir: /var/tmp/dualtrack-kubesim/kubelet   # logs, per-pod files, unpacked images (default: a temp dir)
      imageLayouts: [/srv/oci/yolo]                  # OCI layouts searched for a pod's image (digest, else tag)
      imageCache: /var/tmp/kubesim-rootfs            # unpacked root filesystems, one per digest
      claims: {weld-defects: /srv/datasets/weld-defects, checkpoints: /srv/checkpoints}  # PVC -> host folder
      gracePeriodSeconds: 30                         # SIGTERM -> SIGKILL when the pod does not say

Caller: ``sim.kubeapi.config.load_cluster`` and tests. The section as written is ``KubeletSettings`` (a frozen
pydantic model); ``parse_kubelet(raw)`` turns it into the ``KubeletConfig`` the kubelet reads, or raises
``SettingsError`` (a ValueError) listing every bad key with its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictStr, field_validator

from dualtrack.broker.domain.settings_model import SettingsModel, StrictNumber, validate_block

RUN_SIMULATED, RUN_PROCESS = "simulated", "process"
RUN_MODES = (RUN_SIMULATED, RUN_PROCESS)
RunMode = Literal["simulated", "process"]  # a node entry's ``run:`` value


@dataclass
class KubeletConfig:
    state_dir: Path | None = None  # None: the simulator makes a temporary folder and removes it at stop
    image_layouts: list[Path] = field(default_factory=list)
    image_cache: Path | None = None  # None: <stateDir>/images
    claims: dict[str, Path] = field(default_factory=dict)
    grace_period_seconds: float = 30.0


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path")
    return value


AbsolutePath = Annotated[StrictStr, AfterValidator(_absolute)]


class KubeletSettings(SettingsModel):
    """The ``kubelet:`` section as written (see the module docstring)."""

    state_dir: AbsolutePath | None = None
    image_layouts: list[AbsolutePath] = Field(default_factory=list)
    image_cache: AbsolutePath | None = None
    claims: dict[StrictStr, AbsolutePath] = Field(default_factory=dict)  # PVC claim name -> host folder
    grace_period_seconds: Annotated[StrictNumber, Field(ge=0)] = 30.0

    @field_validator("image_layouts", "claims", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any, info: Any) -> Any:
        return value if value is not None else ([] if info.field_name == "image_layouts" else {})

    def to_config(self) -> KubeletConfig:
        return KubeletConfig(
            state_dir=Path(self.state_dir) if self.state_dir else None,
            image_layouts=[Path(p) for p in self.image_layouts],
            image_cache=Path(self.image_cache) if self.image_cache else None,
            claims={k: Path(v) for k, v in self.claims.items()},
            grace_period_seconds=float(self.grace_period_seconds),
        )


def parse_kubelet(raw: Any, where: str = "kubelet") -> KubeletConfig:
    """The validated section (see the module docstring); ``None`` gives the defaults."""
    return validate_block(KubeletSettings, raw, where).to_config()
