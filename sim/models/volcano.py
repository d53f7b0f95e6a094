"""The simulated cluster: nodes with GPUs and topology, Volcano queues, and an all-or-nothing gang scheduler.

A plain Python module with no HTTP and no threads, driven by an injectable clock, so it runs in real time
behind the API simulator (``sim.kubeapi.controller``) and in virtual time in unit tests and the trace replay
(``sim.replay``). Callers add gangs, call ``step()`` and read gangs and nodes back; they must serialise access.

Scheduling (one ``step()``): finished gangs release their GPUs first (each pod runs ``run_seconds`` from the
gang's start, cut at ``deadline_seconds``); then pending gangs are tried in order of priority (high first)
and arrival. A gang starts only when its queue's GPU capability allows the whole gang and every one of its
``min_member`` pods fits at once (binpack: each pod goes to the feasible node with the fewest GPUs left);
pods beyond ``min_member`` are placed if they fit. A network-topology constraint keeps the gang inside one
tier-1 (NVLink domain) or tier-2 (switch) group: ``hard`` waits for such a group, ``soft`` falls back to any
nodes. A gang that cannot start keeps a Volcano-like ``message`` saying why.

``fast_reject=True`` (the replay) skips a pending gang at once when it needs more GPUs than the schedulable
nodes have free in total, keeping a short message instead of the per-node summary; the outcome is the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GPU = "nvidia.com/gpu"
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


@dataclass
class SimNode:
    name: str
    gpus: int = 8
    gpu_product: str = "NVIDIA-A100-SXM4-80GB"
    cpu_millis: int = 64_000
    memory: int = 512 * 1024**3
    switch: str | None = None
    clique: str | None = None  # NVLink domain; None = the node itself
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, Any]] = field(default_factory=list)
    ready: bool = True
    unschedulable: bool = False
    used_gpus: int = 0
    used_cpu_millis: int = 0
    used_memory: int = 0

    @property
    def free_gpus(self) -> int:
        return self.gpus - self.used_gpus

    def all_labels(self) -> dict[str, str]:
        out = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux"}
        if self.gpus:
            out["nvidia.com/gpu.product"] = self.gpu_product
            out["nvidia.com/gpu.count"] = str(self.gpus)
        if self.switch:
            out["topology.kubernetes.io/switch"] = self.switch
        if self.clique:
            out["nvidia.com/gpu.clique"] = self.clique
        out.update(self.labels)
        return out


@dataclass
class SimQueue:
    name: str
    gpu_capability: int | None = None  # None = unbounded
    state: str = "Open"
    allocated_gpus: int = 0


@dataclass
class PodRequest:
    name: str
    gpus: int = 0
    cpu_millis: int = 0
    memory: int = 0
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    affinity_terms: Sequence[Mapping[str, Any]] = ()  # required nodeSelectorTerms (ORed)


@dataclass
class PodResult:
    node: str | None = None
    phase: str = PENDING
    exit_code: int | None = None
    reason: str = ""
    started_at: float | None = None
    finished_at: float | None = None


@dataclass
class Gang:
    key: str
    pods: list[PodRequest]
    min_member: int
    queue: str = "default"
    priority: int = 0
    run_seconds: float = 30.0
    exit_code: int = 0
    failure_reason: str = ""  # container termination reason when exit_code != 0 (Error, OOMKilled, ...)
    deadline_seconds: float | None = None
    topology_tier: int | None = None  # 1 = NVLink domain, 2 = switch
    topology_mode: str = "hard"
    created_at: float = 0.0
    state: str = PENDING
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    results: dict[str, PodResult] = field(default_factory=dict)

    @property
    def gpus(self) -> int:
        return sum(p.gpus for p in self.pods)

    @property
    def min_gpus(self) -> int:
        return sum(p.gpus for p in self.pods[: self.min_member])


def tolerates(taint: Mapping[str, Any], tolerations: Iterable[Mapping[str, Any]]) -> bool:
    """Kubernetes toleration matching for one taint."""
    for tol in tolerations:
        if tol.get("effect") not in (None, "", taint.get("effect")):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _term_matches(term: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """One nodeSelectorTerm: every matchExpression holds (In, NotIn, Exists, DoesNotExist)."""
    for expr in term.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}.get(op, False)
        if not ok:
            return False
    return True


def _misfit(node: SimNode, pod: PodRequest, gpus_free: int, cpu_free: int, mem_free: int) -> str:
    """Why ``pod`` does not fit ``node`` ('' when it fits), in the scheduler's words."""
    if not node.ready:
        return "node(s) were not ready"
    if node.unschedulable:
        return "node(s) were unschedulable"
    if pod.node_selector or pod.affinity_terms:  # labels are built only when something selects on them
        labels = node.all_labels()
        if any(labels.get(k) != v for k, v in pod.node_selector.items()) or (
                pod.affinity_terms and not any(_term_matches(t, labels) for t in pod.affinity_terms)):
            return "node(s) didn't match Pod's node affinity/selector"
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(taint, pod.tolerations):
            return "node(s) had untolerated taint"
    if pod.gpus > gpus_free:
        return f"Insufficient {GPU}"
    if pod.cpu_millis > cpu_free:
        return "Insufficient cpu"
    if pod.memory > mem_free:
        return "Insufficient memory"
    return ""


class ClusterModel:
    """See the module docstring. Not thread-safe: the caller holds a lock."""

    def __init__(self, nodes: Iterable[SimNode], queues: Iterable[SimQueue] = (),
                 clock: Callable[[], float] = time.time, *, fast_reject: bool = False):
        self.fast_reject = fast_reject
        self.nodes: dict[str, SimNode] = {n.name: n for n in nodes}
        self.queues: dict[str, SimQueue] = {q.name: q for q in queues}
        self.queues.setdefault("default", SimQueue("default"))
        self.gangs: dict[str, Gang] = {}
        self.clock = clock

    # -- membership ----------------------------------------------------------------------------
    def add_gang(self, gang: Gang) -> Gang:
        if gang.key in self.gangs:
            raise ValueError(f"gang {gang.key} exists")
        gang.created_at = gang.created_at or self.clock()
        self.gangs[gang.key] = gang
        return gang

    def remove_gang(self, key: str) -> Gang | None:
        """Forget a gang, releasing what it holds (deletion of its vcjob)."""
        gang = self.gangs.pop(key, None)
        if gang is not None and gang.state == RUNNING:
            self._release(gang)
        return gang

    # -- time ----------------------------------------------------------------------------------
    def step(self) -> list[Gang]:
        """Advance to ``clock()``: finish what is due, then start what fits. Returns the gangs that changed."""
        changed = self._finish_due()
        changed += self._schedule()
        return changed

    def _finish_due(self) -> list[Gang]:
        now = self.clock()
        changed = []
        for gang in self.gangs.values():
            if gang.state != RUNNING or gang.started_at is None:
                continue
            run = gang.run_seconds
            timed_out = gang.deadline_seconds is not None and run > gang.deadline_seconds
            if timed_out:
                run = float(gang.deadline_seconds or 0)
            if now - gang.started_at < run:
                continue
            self._release(gang)
            gang.finished_at = gang.started_at + run
            failed = timed_out or gang.exit_code != 0
            gang.state = FAILED if failed else SUCCEEDED
            for result in gang.results.values():
                if result.phase != RUNNING:
                    continue
                result.finished_at = gang.finished_at
                if timed_out:
                    result.phase, result.reason, result.exit_code = FAILED, "DeadlineExceeded", 137
                elif gang.exit_code:
                    result.phase, result.exit_code = FAILED, gang.exit_code
                    result.reason = gang.failure_reason or "Error"
                else:
                    result.phase, result.exit_code, result.reason = SUCCEEDED, 0, "Completed"
            changed.append(gang)
        return changed

    def finish_pod(self, key: str, pod_name: str, exit_code: int, reason: str = "") -> Gang | None:
        """One running pod of gang ``key`` ended by itself (a process kubelet saw it exit): release what it
        holds and record its exit. Exit 0 -> Succeeded; the gang succeeds once no pod of it still runs.
        Non-zero -> Failed, and the whole gang fails at once (Volcano's PodFailed event); the gang's other
        running pods are marked Failed with reason ``Killed`` (their processes are the kubelet's to stop).
        Returns the gang when it changed, None when the pod was not running (already ended or unknown)."""
        gang = self.gangs.get(key)
        result = gang.results.get(pod_name) if gang is not None else None
        if gang is None or result is None or result.phase != RUNNING or gang.state != RUNNING:
            return None
        now = self.clock()
        self._release_pods(gang, [pod_name])
        result.finished_at, result.exit_code = now, exit_code
        result.phase, result.reason = (SUCCEEDED, "Completed") if exit_code == 0 else (FAILED, reason or "Error")
        still = [n for n, r in gang.results.items() if r.phase == RUNNING]
        if exit_code != 0:
            self._release_pods(gang, still)
            for name in still:
                other = gang.results[name]
                other.phase, other.reason, other.finished_at = FAILED, "Killed", now
            gang.state, gang.finished_at = FAILED, now
        elif not still:
            gang.state, gang.finished_at = SUCCEEDED, now
        return gang

    def _release_pods(self, gang: Gang, names: Sequence[str]) -> None:
        """Release the node and queue share of these running pods of ``gang`` (their phases stay as they are)."""
        by_name = {p.name: p for p in gang.pods}
        queue = self.queues.get(gang.queue)
        for name in names:
            pod, result = by_name.get(name), gang.results.get(name)
            if pod is None or result is None or result.phase != RUNNING or result.node is None:
                continue
            node = self.nodes.get(result.node)
            if node is not None:
                node.used_gpus -= pod.gpus
                node.used_cpu_millis -= pod.cpu_millis
                node.used_memory -= pod.memory
            if queue is not None:
                queue.allocated_gpus -= pod.gpus

    def _release(self, gang: Gang) -> None:
        for pod in gang.pods:
            result = gang.results.get(pod.name)
            if result is None or result.node is None or result.phase != RUNNING:
                continue
            node = self.nodes.get(result.node)
            if node is not None:
                node.used_gpus -= pod.gpus
                node.used_cpu_millis -= pod.cpu_millis
                node.used_memory -= pod.memory
        queue = self.queues.get(gang.queue)
        if queue is not None:
            queue.allocated_gpus -= sum(
                p.gpus for p in gang.pods if gang.results.get(p.name, PodResult()).phase == RUNNING)

    # -- scheduling ----------------------------------------------------------------------------
    def _schedule(self) -> list[Gang]:
        changed = []
        pending = sorted((g for g in self.gangs.values() if g.state == PENDING),
                         key=lambda g: (-g.priority, g.created_at, g.key))
        free = self.gpus_free() if self.fast_reject else 0
        for gang in pending:
            if self.fast_reject and gang.min_gpus > free:
                message = self._unschedulable(gang, f"{free} {GPU} free in the cluster, gang needs {gang.min_gpus}")
                gang.message = message
                continue
            message = self._try_start(gang)
            if self.fast_reject and not message:
                free = self.gpus_free()
            if message != gang.message or not message:
                changed.append(gang)
            gang.message = message
        return changed

    def _queue_refusal(self, gang: Gang) -> str:
        queue = self.queues.get(gang.queue)
        if queue is None:
            return f"queue {gang.queue} does not exist"
        if queue.state != "Open":
            return f"queue {gang.queue} is {queue.state}"
        if queue.gpu_capability is not None and queue.allocated_gpus + gang.min_gpus > queue.gpu_capability:
            return (f"queue resource quota insufficient: queue {gang.queue} capability {GPU} "
                    f"{queue.gpu_capability}, allocated {queue.allocated_gpus}, gang needs {gang.min_gpus}")
        return ""

    def _groups(self, tier: int) -> dict[str, list[SimNode]]:
        groups: dict[str, list[SimNode]] = {}
        for node in self.nodes.values():
            key = (node.clique or node.name) if tier <= 1 else (node.switch or node.clique or node.name)
            groups.setdefault(key, []).append(node)
        return groups

    def _try_start(self, gang: Gang) -> str:
        """Start ``gang`` if it fits (returns ''), else return why not."""
        refusal = self._queue_refusal(gang)
        if refusal:
            return self._unschedulable(gang, refusal)
        candidates: list[list[SimNode]] = []
        if gang.topology_tier is not None:
            groups = self._groups(gang.topology_tier)
            candidates = sorted(groups.values(), key=lambda ns: (sum(n.free_gpus for n in ns), ns[0].name))
            if gang.topology_mode == "soft":
                candidates.append(list(self.nodes.values()))
        else:
            candidates = [list(self.nodes.values())]
        for nodes in candidates:
            plan = self._plan(gang.pods[: gang.min_member], nodes)
            if plan is not None:
                self._bind(gang, plan, nodes)
                return ""
        if gang.topology_tier is not None and gang.topology_mode == "hard":
            anywhere = self._plan(gang.pods[: gang.min_member], list(self.nodes.values()))
            if anywhere is not None:
                return self._unschedulable(
                    gang, f"network topology: no tier-{gang.topology_tier} HyperNode can hold the whole gang")
        return self._unschedulable(gang, self._why_not(gang))

    def _plan(self, pods: Sequence[PodRequest], nodes: Sequence[SimNode]) -> dict[str, str] | None:
        """Binpack ``pods`` onto ``nodes`` all-or-nothing: pod name -> node name, or None."""
        free = {n.name: [n.free_gpus, n.cpu_millis - n.used_cpu_millis, n.memory - n.used_memory] for n in nodes}
        plan: dict[str, str] = {}
        for pod in sorted(pods, key=lambda p: (-p.gpus, -p.cpu_millis, p.name)):
            fitting = [n for n in nodes if not _misfit(n, pod, *free[n.name])]
            if not fitting:
                return None
            best = min(fitting, key=lambda n: (free[n.name][0] - pod.gpus, free[n.name][1], n.name))
            plan[pod.name] = best.name
            slot = free[best.name]
            slot[0] -= pod.gpus
            slot[1] -= pod.cpu_millis
            slot[2] -= pod.memory
        return plan

    def _bind(self, gang: Gang, plan: dict[str, str], nodes: Sequence[SimNode]) -> None:
        """Bind the planned pods, then each pod beyond ``min_member`` that still fits (best effort)."""
        now = self.clock()
        queue = self.queues[gang.queue]
        by_name = {p.name: p for p in gang.pods}

        def bind(pod: PodRequest, host: str) -> None:
            node = self.nodes[host]
            node.used_gpus += pod.gpus
            node.used_cpu_millis += pod.cpu_millis
            node.used_memory += pod.memory
            queue.allocated_gpus += pod.gpus
            gang.results[pod.name] = PodResult(node=host, phase=RUNNING, started_at=now)

        for name, host in plan.items():
            bind(by_name[name], host)
        for pod in gang.pods[gang.min_member:]:
            single = self._plan([pod], nodes)
            if single is None:
                gang.results[pod.name] = PodResult(phase=PENDING, reason="did not fit beside the gang")
            else:
                bind(pod, single[pod.name])
        gang.state = RUNNING
        gang.started_at = now

    def _unschedulable(self, gang: Gang, detail: str) -> str:
        n = len(gang.pods)
        return (f"{n}/{n} tasks in gang unschedulable: pod group is not ready, {gang.min_member} minAvailable, "
                f"{n} Pending; {detail}")

    def _why_not(self, gang: Gang) -> str:
        """The kube-scheduler-like node summary for the gang's largest pod, plus the GPU arithmetic."""
        pod = max(gang.pods[: gang.min_member], key=lambda p: (p.gpus, p.cpu_millis))
        reasons: dict[str, int] = {}
        free_matching = 0
        for node in self.nodes.values():
            why = _misfit(node, pod, node.free_gpus, node.cpu_millis - node.used_cpu_millis,
                          node.memory - node.used_memory)
            if why in ("", f"Insufficient {GPU}", "Insufficient cpu", "Insufficient memory"):
                free_matching += node.free_gpus
            if why:
                reasons[why] = reasons.get(why, 0) + 1
        summary = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
        fit = len(self.nodes) - sum(reasons.values())
        head = f"{fit}/{len(self.nodes)} nodes are available for one task"
        return (f"{head}{': ' + summary if summary else ''}; {free_matching} {GPU} free on matching nodes, "
                f"gang needs {gang.min_gpus}")

    # -- read-outs -------------------------------------------------------------------------------
    def gpus_free(self) -> int:
        return sum(n.free_gpus for n in self.nodes.values() if n.ready and not n.unschedulable)
