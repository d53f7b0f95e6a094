"""Settings validation: defaults, and errors that name the key."""

from __future__ import annotations

from typing import Any

import pytest

from dualtrack.adapters.volcano import from_config
from dualtrack.adapters.volcano.settings import parse_settings


def test_defaults() -> None:
    s = parse_settings("kube", {})
    assert (s.namespace, s.default_queue, s.gpu_resource, s.gpu_product_label, s.master_port, s.scheduler_name) == (
        "default", "default", "nvidia.com/gpu", "nvidia.com/gpu.product", 29500, "volcano")
    assert s.tolerations == ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
    assert s.topology_labels.nvlink_domain == "nvidia.com/gpu.clique"
    assert s.queue_for("anyone") == "default"


def test_full_settings() -> None:
    s = parse_settings("kube", {"kubeconfig": "/k", "context": "c", "namespace": "ml", "queues": {"t": "q-t"},
                                "defaultQueue": "shared", "priorityClasses": {"low": "pc-low"},
                                "gpuProducts": {"h100": "NVIDIA-H100-80GB-HBM3"}, "tolerations": [],
                                "datasets": {"coco": "pvc-coco"}, "requestTimeoutSeconds": 2.5,
                                "topologyLabels": {"switch": "example.com/leaf"}, "maxRetry": 1})
    assert (s.queue_for("t"), s.queue_for("u"), s.tolerations, s.topology_labels.switch, s.max_retry) == (
        "q-t", "shared", (), "example.com/leaf", 1)
    assert from_config("kube", {"namespace": "ml"}).kind == "volcano"


@pytest.mark.parametrize(("settings", "key"), [
    ({"namespace": "Not_A_Name"}, "backends[kube-local].settings.namespace:"),
    ({"namespace": 3}, "backends[kube-local].settings.namespace:"),
    ({"nameSpace": "x"}, "backends[kube-local].settings.nameSpace: unknown key"),
    ({"inCluster": "yes"}, "settings.inCluster:"),
    ({"inCluster": True, "kubeconfig": "/k"}, "settings.inCluster: cannot be combined"),
    ({"queues": {"t": "Bad Queue"}}, "settings.queues.t:"),
    ({"priorityClasses": {"urgent": "pc"}}, "settings.priorityClasses.urgent:"),
    ({"masterPort": 70000}, "settings.masterPort:"),
    ({"requestTimeoutSeconds": "fast"}, "settings.requestTimeoutSeconds:"),
    ({"tolerations": [{"key": "a", "operator": "Maybe"}]}, "settings.tolerations[0].operator:"),
    ({"topologyLabels": {"rack": "x"}}, "settings.topologyLabels.rack: unknown key"),
    ({"maxRetry": 0}, "settings.maxRetry: must be >= 1"),
])
def test_bad_settings_name_the_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_settings("kube-local", settings)
    assert key in str(caught.value)


def test_the_example_config_fragment_builds_through_the_registry() -> None:
    from pathlib import Path

    import yaml

    from dualtrack.adapters.base import Backend
    from dualtrack.adapters.registry import build_backend

    path = Path(__file__).resolve().parents[4] / "examples" / "config" / "kube-local.yaml"
    (entry,) = yaml.safe_load(path.read_text())["backends"]
    backend = build_backend(entry["name"], entry["kind"], entry["settings"])
    assert isinstance(backend, Backend)
    assert (backend.name, backend.kind, backend.track) == ("kube-local", "volcano", "kubernetes")
