"""Validated settings of one Volcano backend (the ``settings:`` mapping of a ``kind: volcano`` backend).

Callers: ``adapters.volcano.from_config`` and, when the configuration is loaded, ``broker.config_sections``.
``parse_settings(name, raw, prefix)`` returns a frozen ``VolcanoSettings`` or raises ``SettingsError`` (a
ValueError) listing every problem with its full key, e.g. ``backends[kube-local].settings.namespace: ...``.
Keys are camelCase, as in the rest of the broker's configuration; unknown keys are errors, never ignored.
Reference: docs/kubernetes.md, "Configuration".
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from dualtrack.adapters.volcano.settings_parts import (
    DEFAULT_TOLERATIONS,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_KEY,
    LABEL_VALUE,
    AbsolutePath,
    LabelKey,
    Toleration,
    TopologyLabels,
)
from dualtrack.broker.domain.settings_model import (
    FieldValueError,
    NonEmptyStr,
    SettingsModel,
    StrictNumber,
    matches,
    one_of,
    validate_block,
)

__all__ = ["DEFAULT_TOLERATIONS", "DNS1123_LABEL", "DNS1123_SUBDOMAIN", "LABEL_KEY", "LABEL_VALUE",
           "TopologyLabels", "VolcanoSettings", "parse_settings"]

PRIORITY_CLASS_KEYS = ("low", "normal", "high")


def _name(what: str, pattern: re.Pattern[str] = DNS1123_SUBDOMAIN) -> AfterValidator:
    return AfterValidator(matches(pattern, what))


QueueName = Annotated[StrictStr, _name("a Volcano queue name")]
ClaimName = Annotated[StrictStr, _name("a PVC claim name")]


def _max_retry(value: int) -> int:
    if value == 0:
        raise ValueError("must be >= 1: Volcano's webhook turns 0 into 3; 1 means no in-place restart")
    return value


class VolcanoSettings(SettingsModel):
    """Everything a Volcano backend reads from its ``settings:`` block."""

    kubeconfig: NonEmptyStr | None = None
    context: NonEmptyStr | None = None
    in_cluster: StrictBool = False
    namespace: Annotated[StrictStr, _name("a DNS-1123 label", DNS1123_LABEL)] = "default"
    queues: dict[StrictStr, QueueName] = Field(default_factory=dict)  # tenant -> Volcano queue
    default_queue: Annotated[StrictStr, _name("a queue name")] = "default"
    # low/normal/high -> PriorityClass
    priority_classes: dict[Annotated[StrictStr, AfterValidator(one_of(*PRIORITY_CLASS_KEYS))],
                           Annotated[StrictStr, _name("a PriorityClass name (DNS-1123 subdomain)")]] = Field(
        default_factory=dict)
    gpu_resource: Annotated[StrictStr, _name("a resource name", LABEL_KEY)] = "nvidia.com/gpu"
    gpu_product_label: LabelKey = "nvidia.com/gpu.product"
    # gpuType (a100) -> product label value
    gpu_products: dict[StrictStr, Annotated[StrictStr, _name("a label value", LABEL_VALUE)]] = Field(
        default_factory=dict)
    tolerations: tuple[Toleration, ...] = DEFAULT_TOLERATIONS
    datasets: dict[StrictStr, ClaimName] = Field(default_factory=dict)  # dataset name -> PVC claim name
    request_timeout_seconds: StrictNumber = Field(default=10.0, ge=0.1, le=600)
    master_port: StrictInt = Field(default=29500, ge=1, le=65535)
    scheduler_name: Annotated[StrictStr, _name("a scheduler name")] = "volcano"
    topology_labels: TopologyLabels = Field(default_factory=TopologyLabels)
    # vcjob spec.maxRetry: runs of the gang in place (restarts on PodEvicted / PodFailed)
    max_retry: Annotated[StrictInt, Field(ge=0, le=100), AfterValidator(_max_retry)] = 3
    # run time assumed for pending demand without an activeDeadline
    pending_estimate_seconds: StrictInt = Field(default=3600, ge=1, le=30 * 86400)
    # YOLO checkpoints (docs/yolo.md#checkpoints): the PVC mounted read-write at /checkpoints, and where the
    # broker sees that volume's files (for output_dir and resume); both optional
    checkpoint_claim: ClaimName | None = None
    checkpoint_root: AbsolutePath | None = None

    @field_validator("queues", "priority_classes", "gpu_products", "datasets", "tolerations", "topology_labels",
                     mode="before")
    @classmethod
    def _null_is_default(cls, value: Any, info: Any) -> Any:
        """``key: null`` (an empty YAML entry) means the default, as an absent key does."""
        if value is not None:
            return value
        return DEFAULT_TOLERATIONS if info.field_name == "tolerations" else (
            TopologyLabels() if info.field_name == "topology_labels" else {})

    @model_validator(mode="after")
    def _one_way_in(self) -> VolcanoSettings:
        if self.in_cluster and self.kubeconfig:
            raise FieldValueError("inCluster", "cannot be combined with kubeconfig")
        return self

    def queue_for(self, tenant: str) -> str:
        return self.queues.get(tenant, self.default_queue)


def parse_settings(backend: str, raw: Any, prefix: str | None = None) -> VolcanoSettings:
    """Validate ``raw``. Raises SettingsError listing every problem, each path under ``prefix`` (default
    ``backends[<backend>].settings``)."""
    return validate_block(VolcanoSettings, raw, f"backends[{backend}].settings" if prefix is None else prefix)
