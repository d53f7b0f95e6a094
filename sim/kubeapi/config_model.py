"""The simulator's cluster file as written (docs/kubernetes.md, "The simulator"): frozen pydantic models that
check every key and report every problem with its path (``nodes[1].memory: ...``).

Caller: ``sim.kubeapi.config.load_cluster``, which expands the node entries into ``SimNode``s.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, StrictInt, StrictStr, model_validator

from dualtrack.broker.domain.quantity import parse_memory
from dualtrack.broker.domain.settings_model import FieldValueError, NonEmptyStr, SettingsModel
from dualtrack.sim.kubeapi.kubelet.config import KubeletSettings, RunMode

Count = Annotated[StrictInt, Field(ge=0)]


def _memory(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a quantity such as 512Gi")
    return value if isinstance(value, int) else parse_memory(value)


def _some_nodes(entries: list[NodeEntry]) -> list[NodeEntry]:
    if not entries:
        raise ValueError("at least one node is needed")
    return entries


class NodeEntry(SettingsModel):
    """One node (``name``) or a group of identical nodes (``count`` + ``namePrefix``)."""

    name: NonEmptyStr | None = None
    count: Count | None = None
    name_prefix: StrictStr = "gpu-"
    gpus: Count = 8
    product: NonEmptyStr = "NVIDIA-A100-SXM4-80GB"
    nodes_per_switch: Count = 2
    switch: NonEmptyStr | None = None
    clique: NonEmptyStr | None = None
    cpus: Count = 64
    memory: Annotated[int, BeforeValidator(_memory)] = 512 * 1024**3
    labels: dict[StrictStr, Annotated[str, BeforeValidator(str)]] = Field(default_factory=dict)
    taints: list[dict[StrictStr, Any]] | None = None  # None: the GPU taint on GPU nodes (taintGpus)
    taint_gpus: StrictBool = True
    run: RunMode = "simulated"  # process: the node's pods run as local processes

    @model_validator(mode="after")
    def _named(self) -> NodeEntry:
        if self.count is None and not self.name:
            raise FieldValueError("name", "required for a single node (or give count)")
        return self


class QueueEntry(SettingsModel):
    name: NonEmptyStr
    gpu_capability: Count | None = None


class ClusterFile(SettingsModel):
    """The whole file; ``queues`` gains ``default`` and ``namespaces`` gains ``default`` when absent."""

    nodes: Annotated[list[NodeEntry], AfterValidator(_some_nodes)] = Field(default_factory=list, validate_default=True)
    queues: list[QueueEntry] | None = None
    namespaces: list[Annotated[str, BeforeValidator(str)]] | None = None
    kubelet: KubeletSettings | None = None
