"""Validated settings of one Volcano backend (the ``settings:`` mapping of a ``kind: volcano`` backend).

Caller: ``adapters.volcano.from_config``. ``parse_settings(name, raw)`` returns ``VolcanoSettings`` or raises
``ValueError`` whose message starts with the full key, e.g. ``backends[kube-local].settings.namespace: ...``.
Keys are camelCase, as in the rest of the broker's configuration; unknown keys are errors, never ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
PRIORITY_CLASS_KEYS = ("low", "normal", "high")
DEFAULT_TOLERATIONS: tuple[Mapping[str, Any], ...] = (
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
)
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}


@dataclass(frozen=True)
class TopologyLabels:
    """Which node labels name a node's NVLink domain and its leaf switch (HyperNodes are the fallback)."""

    nvlink_domain: str = "nvidia.com/gpu.clique"
    switch: str = "topology.kubernetes.io/switch"


@dataclass(frozen=True)
class VolcanoSettings:
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    namespace: str = "default"
    queues: Mapping[str, str] = field(default_factory=dict)  # tenant -> Volcano queue
    default_queue: str = "default"
    priority_classes: Mapping[str, str] = field(default_factory=dict)  # low/normal/high -> PriorityClass
    gpu_resource: str = "nvidia.com/gpu"
    gpu_product_label: str = "nvidia.com/gpu.product"
    gpu_products: Mapping[str, str] = field(default_factory=dict)  # gpuType (a100) -> product label value
    tolerations: tuple[Mapping[str, Any], ...] = DEFAULT_TOLERATIONS
    datasets: Mapping[str, str] = field(default_factory=dict)  # dataset name -> PVC claim name
    request_timeout_seconds: float = 10.0
    master_port: int = 29500
    scheduler_name: str = "volcano"
    topology_labels: TopologyLabels = field(default_factory=TopologyLabels)
    max_retry: int = 3  # vcjob spec.maxRetry: runs of the gang in place (restarts on PodEvicted / PodFailed)
    pending_estimate_seconds: int = 3600  # run time assumed for pending demand without an activeDeadline
    # YOLO checkpoints (docs/yolo.md#checkpoints): the PVC mounted read-write at /checkpoints, and where the
    # broker sees that volume's files (for output_dir and resume); both optional
    checkpoint_claim: str | None = None
    checkpoint_root: str | None = None

    def queue_for(self, tenant: str) -> str:
        return self.queues.get(tenant, self.default_queue)


KNOWN_KEYS = {
    "kubeconfig", "context", "inCluster", "namespace", "queues", "defaultQueue", "priorityClasses",
    "gpuResource", "gpuProductLabel", "gpuProducts", "tolerations", "datasets", "requestTimeoutSeconds",
    "checkpointClaim", "checkpointRoot",
    "masterPort", "schedulerName", "topologyLabels", "maxRetry", "pendingEstimateSeconds",
}


class _Reader:
    """Reads typed values out of the raw mapping; every error names the full key."""

    def __init__(self, backend: str, raw: Mapping[str, Any]):
        self.prefix = f"backends[{backend}].settings"
        self.raw = raw

    def fail(self, key: str, message: str) -> ValueError:
        return ValueError(f"{self.prefix}.{key}: {message}")

    def string(self, key: str, default: str | None, pattern: re.Pattern[str] | None = None,
               what: str = "") -> str | None:
        value = self.raw.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"{value!r} is not {what}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def number(self, key: str, default: float, minimum: float, maximum: float, integer: bool) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            raise self.fail(key, "must be " + ("an integer" if integer else "a number"))
        if not minimum <= value <= maximum:
            raise self.fail(key, f"must be between {minimum:g} and {maximum:g} (got {value})")
        return value

    def string_map(self, key: str, key_check: re.Pattern[str] | None = None,
                   value_check: re.Pattern[str] | None = None, what: str = "") -> dict[str, str]:
        value = self.raw.get(key, {})
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a mapping")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or (key_check is not None and not key_check.match(k)):
                raise self.fail(f"{key}.{k}", "is not a valid key")
            if not isinstance(v, str) or not v or (value_check is not None and not value_check.match(v)):
                raise self.fail(f"{key}.{k}", f"{v!r} is not {what or 'a non-empty string'}")
            out[k] = v
        return out


def _tolerations(reader: _Reader) -> tuple[Mapping[str, Any], ...]:
    value = reader.raw.get("tolerations")
    if value is None:
        return DEFAULT_TOLERATIONS
    if not isinstance(value, list):
        raise reader.fail("tolerations", "must be a list of Kubernetes tolerations")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise reader.fail(f"tolerations[{i}]", "must be a mapping")
        unknown = set(item) - _TOLERATION_KEYS
        if unknown:
            raise reader.fail(f"tolerations[{i}]", f"unknown field(s) {', '.join(sorted(unknown))}")
        if item.get("operator", "Equal") not in ("Equal", "Exists"):
            raise reader.fail(f"tolerations[{i}].operator", "must be Equal or Exists")
        if item.get("effect") not in (None, "", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise reader.fail(f"tolerations[{i}].effect", "must be NoSchedule, PreferNoSchedule or NoExecute")
        out.append(dict(item))
    return tuple(out)


def _topology_labels(reader: _Reader) -> TopologyLabels:
    value = reader.raw.get("topologyLabels")
    if value is None:
        return TopologyLabels()
    if not isinstance(value, Mapping):
        raise reader.fail("topologyLabels", "must be a mapping with nvlinkDomain and/or switch")
    unknown = set(value) - {"nvlinkDomain", "switch"}
    if unknown:
        raise reader.fail("topologyLabels", f"unknown key(s) {', '.join(sorted(unknown))}; use nvlinkDomain, switch")
    sub = _Reader("", value)
    sub.prefix = f"{reader.prefix}.topologyLabels"
    defaults = TopologyLabels()
    return TopologyLabels(
        nvlink_domain=sub.string("nvlinkDomain", defaults.nvlink_domain, LABEL_KEY, "a label key") or "",
        switch=sub.string("switch", defaults.switch, LABEL_KEY, "a label key") or "",
    )


def _max_retry(reader: _Reader) -> int:
    value = int(reader.number("maxRetry", 3, 0, 100, integer=True))
    if value == 0:
        raise reader.fail("maxRetry", "must be >= 1: Volcano's webhook turns 0 into 3; 1 means no in-place restart")
    return value


def parse_settings(backend: str, raw: Mapping[str, Any]) -> VolcanoSettings:
    """Validate ``raw``; raises ValueError naming the offending key (see the module docstring)."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"backends[{backend}].settings: must be a mapping")
    r = _Reader(backend, raw)
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise r.fail(unknown[0], f"unknown setting; known: {', '.join(sorted(KNOWN_KEYS))}")
    in_cluster = r.boolean("inCluster", False)
    kubeconfig = r.string("kubeconfig", None)
    if in_cluster and kubeconfig:
        raise r.fail("inCluster", "cannot be combined with kubeconfig")
    priority_classes = r.string_map("priorityClasses", value_check=DNS1123_SUBDOMAIN,
                                    what="a PriorityClass name (DNS-1123 subdomain)")
    for key in priority_classes:
        if key not in PRIORITY_CLASS_KEYS:
            raise r.fail(f"priorityClasses.{key}", f"must be one of {', '.join(PRIORITY_CLASS_KEYS)}")
    return VolcanoSettings(
        kubeconfig=kubeconfig,
        context=r.string("context", None),
        in_cluster=in_cluster,
        namespace=r.string("namespace", "default", DNS1123_LABEL, "a DNS-1123 label") or "default",
        queues=r.string_map("queues", value_check=DNS1123_SUBDOMAIN, what="a Volcano queue name"),
        default_queue=r.string("defaultQueue", "default", DNS1123_SUBDOMAIN, "a queue name") or "default",
        priority_classes=priority_classes,
        gpu_resource=r.string("gpuResource", "nvidia.com/gpu", LABEL_KEY, "a resource name") or "",
        gpu_product_label=r.string("gpuProductLabel", "nvidia.com/gpu.product", LABEL_KEY, "a label key") or "",
        gpu_products=r.string_map("gpuProducts", value_check=LABEL_VALUE, what="a label value"),
        tolerations=_tolerations(r),
        datasets=r.string_map("datasets", value_check=DNS1123_SUBDOMAIN, what="a PVC claim name"),
        request_timeout_seconds=r.number("requestTimeoutSeconds", 10.0, 0.1, 600, integer=False),
        master_port=int(r.number("masterPort", 29500, 1, 65535, integer=True)),
        scheduler_name=r.string("schedulerName", "volcano", DNS1123_SUBDOMAIN, "a scheduler name") or "",
        topology_labels=_topology_labels(r),
        max_retry=_max_retry(r),
        pending_estimate_seconds=int(r.number("pendingEstimateSeconds", 3600, 1, 30 * 86400, integer=True)),
        checkpoint_claim=r.string("checkpointClaim", None, DNS1123_SUBDOMAIN, "a PVC claim name"),
        checkpoint_root=_absolute_path(r, "checkpointRoot"),
    )


def _absolute_path(reader: _Reader, key: str) -> str | None:
    value = reader.string(key, None)
    if value is not None and not value.startswith("/"):
        raise reader.fail(key, f"{value!r} must be an absolute path")
    return value
