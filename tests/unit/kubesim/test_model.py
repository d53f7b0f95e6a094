"""The cluster model's gang scheduler in virtual time: all-or-nothing, binpack, queue capability, topology,
run time and deadlines. The clock is a plain float the test moves."""

from __future__ import annotations

import pytest

from dualtrack.sim.kubeapi.config import node_group
from dualtrack.sim.kubeapi.model import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    ClusterModel,
    Gang,
    PodRequest,
    SimNode,
    SimQueue,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gang(key: str, workers: int, gpus: int, *, queue: str = "default", run: float = 100.0,
         min_member: int | None = None, **kw: object) -> Gang:
    pods = [PodRequest(f"{key}-{i}", gpus=gpus, cpu_millis=1000, memory=1024**3,
                       tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]) for i in range(workers)]
    return Gang(key, pods, min_member or workers, queue=queue, run_seconds=run, **kw)  # type: ignore[arg-type]


def model(nodes: list[SimNode], queues: list[SimQueue] | None = None) -> tuple[ClusterModel, Clock]:
    clock = Clock()
    return ClusterModel(nodes, queues or [], clock=clock), clock


def test_gang_is_all_or_nothing_and_starts_when_gpus_free() -> None:
    m, clock = model(node_group(1, gpus=4))
    m.add_gang(gang("blocker", 1, 1, run=50))
    m.add_gang(gang("g", 4, 1))
    m.step()
    assert (m.gangs["blocker"].state, m.gangs["g"].state) == (RUNNING, PENDING)
    assert m.nodes["gpu-1"].used_gpus == 1  # nothing of the gang was bound
    assert "4/4 tasks in gang unschedulable" in m.gangs["g"].message
    assert "3 nvidia.com/gpu free on matching nodes, gang needs 4" in m.gangs["g"].message
    clock.now += 49.9
    m.step()
    assert m.gangs["g"].state == PENDING
    clock.now += 0.1  # the blocker finishes at exactly 50 s: its GPU frees up
    m.step()
    assert (m.gangs["blocker"].state, m.gangs["g"].state) == (SUCCEEDED, RUNNING)
    assert m.gangs["g"].message == "" and m.nodes["gpu-1"].used_gpus == 4


def test_binpack_fills_the_fullest_node_first() -> None:
    m, _ = model(node_group(3, gpus=8))
    m.add_gang(gang("a", 1, 6))
    m.step()
    host_a = m.gangs["a"].results["a-0"].node
    m.add_gang(gang("b", 1, 2))
    m.step()
    assert m.gangs["b"].results["b-0"].node == host_a  # the 2 GPUs left on a's node, not an empty node
    m.add_gang(gang("c", 2, 4))
    m.step()
    hosts = {r.node for r in m.gangs["c"].results.values()}
    assert len(hosts) == 1 and host_a not in hosts  # both workers packed onto one empty node


def test_queue_capability_holds_a_gang_back_despite_free_gpus() -> None:
    m, clock = model(node_group(2, gpus=8), [SimQueue("team", gpu_capability=8)])
    m.add_gang(gang("first", 1, 6, queue="team", run=10))
    m.add_gang(gang("second", 1, 4, queue="team"))
    m.step()
    assert (m.gangs["first"].state, m.gangs["second"].state) == (RUNNING, PENDING)
    assert "queue resource quota insufficient" in m.gangs["second"].message
    assert m.queues["team"].allocated_gpus == 6
    m.add_gang(gang("elsewhere", 1, 4))  # the default queue is unbounded
    m.step()
    assert m.gangs["elsewhere"].state == RUNNING
    clock.now += 10
    m.step()
    assert m.gangs["second"].state == RUNNING and m.queues["team"].allocated_gpus == 4


def test_priority_then_arrival_order() -> None:
    m, _ = model(node_group(1, gpus=4))
    m.add_gang(gang("low", 1, 4))
    m.add_gang(gang("high", 1, 4, priority=10))
    m.step()
    assert (m.gangs["high"].state, m.gangs["low"].state) == (RUNNING, PENDING)


def test_node_selector_taints_and_readiness() -> None:
    nodes = node_group(1, gpus=8, product="NVIDIA-H100") + node_group(1, gpus=8, start=2)
    nodes[1].ready = False
    m, _ = model(nodes)
    g = gang("sel", 1, 1)
    g.pods[0].node_selector = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    m.add_gang(g)
    untolerating = Gang("taint", [PodRequest("t-0", gpus=1)], 1)
    m.add_gang(untolerating)
    m.step()
    assert m.gangs["sel"].state == PENDING
    assert "1 node(s) didn't match Pod's node affinity/selector" in m.gangs["sel"].message
    assert "1 node(s) were not ready" in m.gangs["sel"].message
    assert "node(s) had untolerated taint" in m.gangs["taint"].message
    nodes[1].ready = True
    m.step()
    assert m.gangs["sel"].state == RUNNING and m.gangs["sel"].results["sel-0"].node == "gpu-2"


def test_min_member_below_replicas_binds_extras_best_effort() -> None:
    m, _ = model(node_group(1, gpus=4))
    m.add_gang(gang("elastic", 6, 1, min_member=3))
    m.step()
    results = m.gangs["elastic"].results
    assert m.gangs["elastic"].state == RUNNING
    assert sum(1 for r in results.values() if r.phase == RUNNING) == 4  # 3 required + 1 that still fit
    assert sum(1 for r in results.values() if r.phase == PENDING) == 2


@pytest.mark.parametrize(("mode", "expected"), [("hard", PENDING), ("soft", RUNNING)])
def test_switch_tier_keeps_a_gang_under_one_switch(mode: str, expected: str) -> None:
    m, _ = model(node_group(4, gpus=8, nodes_per_switch=2))
    # 6 of 8 GPUs in use on every node: each switch (2 nodes) has 2 + 2 free, the cluster 8.
    for name in ("gpu-1", "gpu-2", "gpu-3", "gpu-4"):
        m.nodes[name].used_gpus = 6
    m.add_gang(gang("wide", 3, 2, topology_tier=2, topology_mode=mode))  # 6 GPUs: no switch has them
    m.step()
    assert m.gangs["wide"].state == expected
    if mode == "hard":
        assert "no tier-2 HyperNode can hold the whole gang" in m.gangs["wide"].message
    else:
        assert len({r.node for r in m.gangs["wide"].results.values()}) == 3


def test_node_tier_puts_the_gang_on_one_node() -> None:
    m, _ = model(node_group(2, gpus=8))
    m.add_gang(gang("one-node", 4, 2, topology_tier=1))
    m.step()
    assert len({r.node for r in m.gangs["one-node"].results.values()}) == 1


def test_scripted_failure_and_deadline() -> None:
    m, clock = model(node_group(1, gpus=8))
    m.add_gang(gang("fails", 2, 1, run=5, exit_code=3))
    m.add_gang(gang("slow", 1, 1, run=500, deadline_seconds=60))
    m.step()
    clock.now += 60
    m.step()
    fails, slow = m.gangs["fails"], m.gangs["slow"]
    assert fails.state == FAILED and {r.exit_code for r in fails.results.values()} == {3}
    assert slow.state == FAILED and slow.results["slow-0"].reason == "DeadlineExceeded"
    assert slow.finished_at == slow.started_at + 60  # type: ignore[operator]
    assert m.nodes["gpu-1"].used_gpus == 0


def test_remove_gang_releases_its_gpus() -> None:
    m, _ = model(node_group(1, gpus=8), [SimQueue("q", 8)])
    m.add_gang(gang("g", 2, 4, queue="q"))
    m.step()
    assert m.gpus_free() == 0 and m.queues["q"].allocated_gpus == 8
    m.remove_gang("g")
    assert m.gpus_free() == 8 and m.queues["q"].allocated_gpus == 0
