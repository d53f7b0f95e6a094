"""render_vcjob: the manifest's fields, one by one, and CRD validity for every example job."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from dualtrack.adapters.volcano.render import format_memory, render_vcjob, to_yaml
from dualtrack.adapters.volcano.settings import parse_settings
from dualtrack.broker.domain import Placement

from .conftest import EXAMPLES, example_job, job_from

SETTINGS = parse_settings("kube", {"queues": {"vision-qa": "vision"}, "priorityClasses": {"high": "train-high"},
                                   "gpuProducts": {"a100": "NVIDIA-A100-SXM4-80GB"},
                                   "datasets": {"weld-defects": "pvc-weld"}, "masterPort": 23456})


def _container(manifest: dict) -> dict:  # type: ignore[type-arg]
    return manifest["spec"]["tasks"][0]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_renders_a_crd_valid_vcjob(path: Path, vcjob_validator: jsonschema.Draft7Validator) -> None:
    for settings in (SETTINGS, parse_settings("plain", {})):
        manifest = render_vcjob(example_job(path), Placement("kube"), settings)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in vcjob_validator.iter_errors(manifest)]
        assert errors == []
        assert yaml.safe_load(to_yaml(manifest)) == manifest


def test_a_wrong_manifest_fails_the_same_validation(vcjob_validator: jsonschema.Draft7Validator) -> None:
    manifest = render_vcjob(example_job(EXAMPLES[0]), Placement("kube"), SETTINGS)
    manifest["spec"]["minAvailable"] = "four"
    manifest["spec"]["policies"][0]["event"] = "PodExploded"
    paths = sorted(str(list(e.absolute_path)) for e in vcjob_validator.iter_errors(manifest))
    assert paths == ["['spec', 'minAvailable']", "['spec', 'policies', 0, 'event']"]


def test_gang_of_four_by_two_with_topology_queue_dataset() -> None:
    path = next(p for p in EXAMPLES if p.name == "yolo-4x2-gang.yaml")
    job = example_job(path, job_id="j0gang0000001", attempt=2)
    m = render_vcjob(job, Placement("kube"), SETTINGS)
    assert m["apiVersion"] == "batch.volcano.sh/v1alpha1" and m["kind"] == "Job"
    assert m["metadata"]["name"] == "dt-j0gang0000001-2"
    assert m["metadata"]["labels"] == {"dualtrack.io/job-id": "j0gang0000001", "dualtrack.io/attempt": "2",
                                       "dualtrack.io/tenant": "vision-qa"}
    spec = m["spec"]
    assert (spec["schedulerName"], spec["minAvailable"], spec["queue"], spec["maxRetry"]) == (
        "volcano", 4, "vision", 3)
    assert "priorityClassName" not in spec  # normal is not mapped in SETTINGS
    assert spec["policies"] == [{"event": "PodEvicted", "action": "RestartJob"},
                                {"event": "PodFailed", "action": "RestartJob"}]
    assert spec["plugins"] == {"svc": [], "env": []}
    assert spec["networkTopology"] == {"mode": "soft", "highestTierAllowed": 2}
    task = spec["tasks"][0]
    assert (task["name"], task["replicas"]) == ("worker", 4)
    assert task["policies"] == [{"event": "TaskCompleted", "action": "CompleteJob"}]
    pod = task["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["activeDeadlineSeconds"] == 48 * 3600
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert {"name": "ds-weld-defects", "persistentVolumeClaim": {"claimName": "pvc-weld", "readOnly": True}} in (
        pod["volumes"])
    c = pod["containers"][0]
    assert c["image"] == "ultralytics/ultralytics:8.3.40"
    assert {"name": "ds-weld-defects", "mountPath": "/datasets/weld-defects", "readOnly": True} in c["volumeMounts"]
    assert c["resources"]["limits"] == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "2"}
    argv = c["command"] + c["args"]
    assert argv[:2] == ["bash", "-c"] and argv[2].startswith('exec torchrun --nnodes="$NNODES"')
    env = {e["name"]: e for e in c["env"]}
    assert env["MASTER_ADDR"]["value"] == "dt-j0gang0000001-2-worker-0.dt-j0gang0000001-2"
    assert env["MASTER_PORT"]["value"] == "23456"
    assert env["WORLD_SIZE"]["value"] == env["NNODES"]["value"] == "4"
    assert env["NODE_RANK"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.annotations['volcano.sh/task-index']"
    names = [e["name"] for e in c["env"]]
    assert names.index("NODE_RANK") > names.index("MASTER_ADDR")


def test_one_node_job_priority_class_image_ref_and_node_tier() -> None:
    path = next(p for p in EXAMPLES if p.name == "yolo-8gpu-node.yaml")
    job = example_job(path).evolve(image_ref="ultralytics/ultralytics@sha256:" + "a" * 64)
    m = render_vcjob(job, Placement("kube", pool="override-queue"), SETTINGS)
    assert m["spec"]["priorityClassName"] == "train-high"
    assert m["spec"]["queue"] == "override-queue"  # the placement's pool wins over the tenant map
    assert m["spec"]["networkTopology"] == {"mode": "hard", "highestTierAllowed": 1}
    c = m["spec"]["tasks"][0]["template"]["spec"]["containers"][0]
    assert c["image"].endswith("@sha256:" + "a" * 64)
    assert c["command"] == ["yolo"] and "device=0,1,2,3,4,5,6,7" in c["args"]


def test_cpu_job_has_no_gpu_limit_selector_tolerations_or_topology() -> None:
    job = job_from({"resources": {"gpusPerWorker": 0, "cpusPerWorker": 2, "memoryPerWorker": 1536 * 1024**2},
                    "env": {"GREETING": "$(HOME) literal", "MASTER_PORT": "1"}})
    m = render_vcjob(job, Placement("kube"), parse_settings("k", {}))
    pod = m["spec"]["tasks"][0]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod and "networkTopology" not in m["spec"]
    c = pod["containers"][0]
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "1536Mi"}
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["GREETING"] == "$$(HOME) literal"  # kubelet would expand $(HOME); the spec meant it literally
    assert env["MASTER_PORT"] == "29500"  # the rendezvous variables are the adapter's, never the user's
    assert m["spec"]["queue"] == "default"


def test_gpu_type_without_configured_product_uses_discovered_values() -> None:
    job = job_from({"resources": {"gpusPerWorker": 1, "gpuType": "h100"}})
    plain = parse_settings("k", {})
    one = render_vcjob(job, Placement("k"), plain, {"h100": ["NVIDIA-H100-80GB-HBM3"]})
    assert one["spec"]["tasks"][0]["template"]["spec"]["nodeSelector"] == {
        "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    two = render_vcjob(job, Placement("k"), plain, {"h100": ["NVIDIA-H100-PCIe", "NVIDIA-H100-80GB-HBM3"]})
    pod = two["spec"]["tasks"][0]["template"]["spec"]
    expr = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expr == {"key": "nvidia.com/gpu.product", "operator": "In",
                    "values": ["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe"]}


@pytest.mark.parametrize(("size", "text"), [(64 * 1024**3, "64Gi"), (512 * 1024**2, "512Mi"), (1000, "1000"),
                                            (3 * 1024, "3Ki"), (2 * 1024**4, "2Ti")])
def test_format_memory(size: int, text: str) -> None:
    assert format_memory(size) == text
