"""Volcano Job (``batch.volcano.sh/v1alpha1``) -> unified spec (docs/import.md, "Volcano Jobs").

Carried over: name (or the ``dualtrack.io/name`` annotation of a vcjob dualtrack rendered), the
``dualtrack.io/tenant`` label, task replicas -> workers, ``minAvailable`` -> gang, ``priorityClassName`` when it
is a dualtrack class name, the container's image, command/args (yolo recognized), env, GPU/CPU/memory limits,
PVC volumes -> datasets, ``activeDeadlineSeconds`` -> timeLimit, ``networkTopology`` -> topology, the GPU product
node selector -> gpuType. Everything else gets a warning, except what dualtrack re-creates identically (its own
labels, the svc/env plugins, the rendezvous variables and port, /dev/shm, restartPolicy Never).
"""

from __future__ import annotations

import math
from typing import Any

from dualtrack.broker.domain.launch import users_env_value
from dualtrack.broker.domain.quantity import parse_memory
from dualtrack.broker.importers.base import Imported, dns_name, empty_spec, format_memory, format_seconds
from dualtrack.broker.importers.base import gpu_type_from_product as product_type
from dualtrack.broker.importers.commands import RENDEZVOUS_WORDS, recognize

API_VERSION = "batch.volcano.sh/v1alpha1"
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
PRODUCT_LABELS = ("nvidia.com/gpu.product",)
RENDEZVOUS_ENV = {"MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "WORLD_SIZE", "NNODES"}
DUALTRACK_LABELS = ("dualtrack.io/job-id", "dualtrack.io/attempt", "dualtrack.io/tenant")
PRIORITY_NAMES = ("low", "normal", "high")
TIERS = {1: "node", 2: "switch"}
DATASET_ROOT = "/datasets/"


def is_vcjob(document: Any) -> bool:
    return isinstance(document, dict) and document.get("apiVersion") == API_VERSION and document.get("kind") == "Job"


def import_vcjob(document: dict[str, Any]) -> Imported:
    """The unified spec of one Volcano Job manifest, with a warning for each field not carried over."""
    metadata = document.get("metadata") or {}
    body = document.get("spec") or {}
    imported = Imported(empty_spec("imported-job"), source_kind="volcano")
    spec = imported.spec
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    raw_name = annotations.get("dualtrack.io/name") or metadata.get("name") or "imported-job"
    spec["metadata"]["name"] = dns_name(str(raw_name), imported, "metadata.name")
    if labels.get("dualtrack.io/tenant"):
        spec["metadata"]["tenant"] = labels["dualtrack.io/tenant"]
    else:
        imported.warn("metadata.tenant", "a Volcano Job has no tenant; the broker uses your token's tenant or "
                                         "'default'")
    others = {k: v for k, v in labels.items() if k not in DUALTRACK_LABELS}
    if others:
        spec["metadata"]["labels"] = {str(k): str(v) for k, v in others.items()}
    if metadata.get("namespace"):
        imported.warn("metadata.namespace", f"{metadata['namespace']!r}: the Volcano backend's settings choose "
                                            "the namespace")
    _job_level(body, imported)
    if "dualtrack.io/job-id" in labels:  # a vcjob dualtrack rendered: what the broker keeps to itself
        for field, why in (("metadata.labels", "labels"), ("spec.retry", "the retry policy"),
                           ("spec.reroute", "the reroute timeout"), ("spec.placement", "the placement request")):
            imported.warn(field, f"{why} stays with the broker and is not written into the Volcano Job")
        if "priorityClassName" not in body:
            imported.warn("spec.priority", "no priority class was mapped for it (backend settings "
                                           "'priorityClasses'); the broker keeps the priority")
    tasks = body.get("tasks") or []
    if not tasks:
        imported.warn("spec.tasks", "no tasks: nothing to run")
        spec["spec"]["command"] = ["true"]
        return imported
    main = max(range(len(tasks)), key=lambda i: int(tasks[i].get("replicas", 1)))
    for index, task in enumerate(tasks):
        if index != main:
            imported.warn(f"spec.tasks[{index}]", f"task {task.get('name')!r} is not carried over: a dualtrack job "
                                                  "is one group of identical workers")
    _task(tasks[main], main, body, imported)
    return imported


def _job_level(body: dict[str, Any], imported: Imported) -> None:
    spec = imported.spec["spec"]
    if body.get("schedulerName", "volcano") != "volcano":
        imported.warn("spec.schedulerName", f"{body['schedulerName']!r}: the Volcano backend's settings choose it")
    if body.get("queue"):
        imported.warn("spec.queue", f"{body['queue']!r}: dualtrack maps the tenant to a queue (backend settings "
                                    "'queues') or places the job in a pool itself")
    priority = body.get("priorityClassName")
    if priority in PRIORITY_NAMES:
        spec["priority"] = priority
    elif priority:
        imported.warn("spec.priority", f"priorityClassName {priority!r} is not low/normal/high; map it in the "
                                       "backend settings 'priorityClasses'")
    if "maxRetry" in body:
        imported.warn("spec.maxRetry", f"{body['maxRetry']}: Volcano restarts come from the backend settings; "
                                       "spec.retry.maxAttempts sets the broker's retries")
    known = {("PodEvicted", "RestartJob"), ("PodFailed", "RestartJob")}
    for policy in body.get("policies") or []:
        if (policy.get("event"), policy.get("action")) not in known:
            imported.warn("spec.policies", f"{policy}: not carried over (dualtrack sets its own)")
    for plugin in (body.get("plugins") or {}):
        if plugin not in ("svc", "env"):
            imported.warn("spec.plugins", f"plugin {plugin!r} is not carried over (dualtrack enables svc and env)")
    topology = body.get("networkTopology")
    if isinstance(topology, dict):
        tier = TIERS.get(int(topology.get("highestTierAllowed", 0) or 0))
        if tier is None:
            imported.warn("spec.topology", f"networkTopology {topology}: only tiers 1 (node) and 2 (switch) are known")
        else:
            spec["topology"] = {"tier": tier, "mode": topology.get("mode", "hard")}
    for key in sorted(set(body) - {"schedulerName", "queue", "priorityClassName", "maxRetry", "policies", "plugins",
                                   "networkTopology", "tasks", "minAvailable"}):
        imported.warn(f"spec.{key}", "not carried over")


def _task(task: dict[str, Any], index: int, body: dict[str, Any], imported: Imported) -> None:
    spec = imported.spec["spec"]
    where = f"spec.tasks[{index}]"
    workers = int(task.get("replicas", 1))
    spec["resources"]["workers"] = workers
    min_available = body.get("minAvailable")
    if min_available is not None and int(min_available) < workers:
        spec["gang"] = {"minAvailable": int(min_available)}
    for policy in task.get("policies") or []:
        if (policy.get("event"), policy.get("action")) != ("TaskCompleted", "CompleteJob"):
            imported.warn(f"{where}.policies", f"{policy}: not carried over")
    pod = (task.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if not containers:
        imported.warn(f"{where}.template", "no container: nothing to run")
        spec["command"] = ["true"]
        return
    for extra in containers[1:]:
        imported.warn(f"{where}.template.spec.containers", f"sidecar {extra.get('name')!r} is not carried over")
    if pod.get("initContainers"):
        imported.warn(f"{where}.template.spec.initContainers", "not carried over")
    container = containers[0]
    cwhere = f"{where}.template.spec.containers[0]"
    _resources(container.get("resources") or {}, imported, cwhere)
    _gpu_type(pod, imported, f"{where}.template.spec")
    if container.get("image"):
        spec["image"] = container["image"]
    argv = [_unescape(str(w)) for w in (container.get("command") or []) + (container.get("args") or [])]
    if argv:
        spec.update(recognize(argv, imported, f"{cwhere}.command", spec["resources"].get("gpusPerWorker", 0)))
    else:
        imported.warn(f"{cwhere}.command", "the image's entrypoint runs; dualtrack needs the command: set spec.command")
        spec["command"] = ["true"]
    env = _env(container.get("env") or [], imported, f"{cwhere}.env")
    if env:
        spec["env"] = env
    _volumes(pod, container, imported, f"{where}.template.spec")
    deadline = pod.get("activeDeadlineSeconds")
    if deadline:
        spec["timeLimit"] = format_seconds(int(deadline))
    for key in sorted(set(pod) - {"containers", "volumes", "activeDeadlineSeconds", "restartPolicy",
                                  "nodeSelector", "tolerations", "affinity", "initContainers"}):
        imported.warn(f"{where}.template.spec.{key}", "not carried over")
    if pod.get("restartPolicy", "Never") != "Never":
        imported.warn(f"{where}.template.spec.restartPolicy", "dualtrack pods never restart in place (retries "
                                                            "are the broker's)")
    for key in sorted(set(container) - {"name", "image", "command", "args", "env", "resources", "volumeMounts",
                                        "ports"}):
        imported.warn(f"{cwhere}.{key}", "not carried over")


def _unescape(word: str) -> str:
    return word if word in RENDEZVOUS_WORDS else word.replace("$$(", "$(")


def _quantity(value: Any) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _resources(resources: dict[str, Any], imported: Imported, where: str) -> None:
    res = imported.spec["spec"]["resources"]
    merged = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    gpus = next((int(merged[k]) for k in GPU_RESOURCES if k in merged), 0)
    res["gpusPerWorker"] = gpus
    if "cpu" in merged:
        cpus = _quantity(merged["cpu"])
        res["cpusPerWorker"] = max(1, math.ceil(cpus))
        if cpus != res["cpusPerWorker"]:
            imported.warn("spec.resources.cpusPerWorker", f"cpu {merged['cpu']} rounded up to whole CPUs")
    if "memory" in merged:
        res["memoryPerWorker"] = format_memory(parse_memory(str(merged["memory"])))
    for key in sorted(set(merged) - {"cpu", "memory", *GPU_RESOURCES}):
        imported.warn(f"{where}.resources", f"{key}: not carried over")


def _gpu_type(pod: dict[str, Any], imported: Imported, where: str) -> None:
    selector = pod.get("nodeSelector") or {}
    products = [str(v) for k, v in selector.items() if k in PRODUCT_LABELS]
    terms = (((pod.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") in PRODUCT_LABELS and expression.get("operator") == "In":
                products += [str(v) for v in expression.get("values") or []]
    types = {product_type(p) for p in products}
    if len(types) == 1 and None not in types:
        imported.spec["spec"]["resources"]["gpuType"] = types.pop()
    elif products:
        imported.warn("spec.resources.gpuType", f"GPU products {products} name no single known GPU type; set it "
                                                "(and the backend's gpuProducts map)")
    for key in sorted(set(selector) - set(PRODUCT_LABELS)):
        imported.warn(f"{where}.nodeSelector", f"{key}: not carried over")
    if pod.get("affinity") and not terms:
        imported.warn(f"{where}.affinity", "not carried over")
    for toleration in pod.get("tolerations") or []:
        if toleration.get("key") not in GPU_RESOURCES:
            imported.warn(f"{where}.tolerations", f"{toleration}: the backend settings set tolerations")


def _env(entries: list[dict[str, Any]], imported: Imported, where: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for entry in entries:
        name = str(entry.get("name", ""))
        if name in RENDEZVOUS_ENV:
            continue  # dualtrack sets the rendezvous itself
        if "value" in entry:
            value = users_env_value(name, str(entry["value"]).replace("$$(", "$("))
            if value is not None:
                env[name] = value
        else:
            imported.warn(f"{where}[{name}]", "valueFrom (secrets, config maps, fields) is not carried over")
    return env


def _volumes(pod: dict[str, Any], container: dict[str, Any], imported: Imported, where: str) -> None:
    mounts = {m.get("name"): m for m in container.get("volumeMounts") or []}
    datasets: list[str] = []
    for volume in pod.get("volumes") or []:
        name = volume.get("name")
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        mount = str((mounts.get(name) or {}).get("mountPath", ""))
        if claim:
            dataset = mount[len(DATASET_ROOT):].strip("/") if mount.startswith(DATASET_ROOT) else str(claim)
            datasets.append(dataset)
            if mount and not mount.startswith(DATASET_ROOT):
                imported.warn(f"{where}.volumes[{name}]", f"PVC {claim} becomes dataset {dataset!r}, mounted at "
                                                          f"/datasets/{dataset} instead of {mount}")
        elif name == "dshm" or (volume.get("emptyDir") or {}).get("medium") == "Memory":
            continue  # dualtrack mounts a memory-backed /dev/shm itself
        else:
            imported.warn(f"{where}.volumes[{name}]", "only PVCs (as datasets) are carried over")
    if datasets:
        imported.spec["spec"]["datasets"] = datasets
