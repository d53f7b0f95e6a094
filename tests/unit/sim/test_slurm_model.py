"""The Slurm model: priority order plus backfill judged by time limits, --switches with its wait, estimates."""

from __future__ import annotations

import pytest

from dualtrack.sim.models.slurm import COMPLETED, PENDING, RUNNING, TIMEOUT, SlurmJob, SlurmModel, SlurmNode


def two_nodes() -> SlurmModel:
    return SlurmModel([SlurmNode("n0", gpus=4, switch="s0"), SlurmNode("n1", gpus=4, switch="s0")],
                      max_reservations=4)


def job(key: str, nodes: int, gpus: int, limit: float, run: float, priority: int) -> SlurmJob:
    return SlurmJob(key, nodes=nodes, gpus_per_node=gpus, cpus_per_node=1, memory_mib_per_node=1,
                    time_limit=limit, run_seconds=run, priority=priority)


def started(changed: list[SlurmJob]) -> set[str]:
    return {j.key for j in changed if j.state == RUNNING}


def test_backfill_starts_exactly_the_jobs_that_delay_no_reservation() -> None:
    """Two nodes of 4 GPUs. All five jobs arrive at t=0 (priority high first):

        job  nodes x GPUs  limit  runs  priority
        A    1 x 2         100    100   50
        B    2 x 4          50     50   40   whole cluster: blocked by A; reserved at 100 (A's limit) to 150
        C    1 x 2         100     60   30   [0, 100) ends by 100 <= 100: backfilled now beside A (best fit: n0)
        D    1 x 2         200     10   20   [0, 200) would overlap B's [100, 150): must wait, although it
                                             really runs only 10 s (limits are what the scheduler knows)
        E    1 x 2         100    100   10   [0, 100) on n1: backfilled now

    t=0: A, C, E start; B expects 100. t=60: C ends; D still may not start (its limit crosses 100).
    t=100: A and E end; B starts. t=150: B ends; D starts. A strict priority scheduler would start only A at
    0 (B blocks everything behind it).
    """
    model = two_nodes()
    for j in (job("A", 1, 2, 100, 100, 50), job("B", 2, 4, 50, 50, 40), job("C", 1, 2, 100, 60, 30),
              job("D", 1, 2, 200, 10, 20), job("E", 1, 2, 100, 100, 10)):
        model.submit(j, 0.0)
    assert started(model.advance(0.0)) == {"A", "C", "E"}
    assert model.jobs["B"].expected_start == 100.0
    assert model.jobs["C"].allocation == model.jobs["A"].allocation  # best fit: the fuller node
    assert model.next_event_time() == 60.0
    changed = model.advance(60.0)
    assert [(j.key, j.state) for j in changed] == [("C", COMPLETED)]
    assert model.jobs["D"].state == PENDING
    assert started(model.advance(100.0)) == {"B"}
    assert model.jobs["B"].start_time == 100.0
    assert started(model.advance(150.0)) == {"D"}


def test_a_job_over_its_limit_times_out_at_the_limit() -> None:
    model = two_nodes()
    model.submit(job("X", 1, 1, 50, 80, 0), 0.0)
    model.advance(0.0)
    assert model.next_event_time() == 50.0
    (done,) = model.advance(50.0)
    assert (done.state, done.end_time) == (TIMEOUT, 50.0)


def test_switches_waits_for_one_switch_then_relaxes() -> None:
    """n0, n1 under s0; n2, n3 under s1; n0 and n2 (type x) are busy. A 2-node job of type y with
    --switches=1@300, submitted at 10 s, finds one free node per switch (n1, n3): it waits; at 310 s the
    constraint lapses and it starts on n1 + n3, across both switches."""
    nodes = [SlurmNode(f"n{i}", gpus=4, switch=f"s{i // 2}", gpu_type="x" if i % 2 == 0 else "y")
             for i in range(4)]
    model = SlurmModel(nodes)
    for key in ("busy0", "busy2"):
        busy = job(key, 1, 4, 10_000, 10_000, 100)
        busy.gpu_type = "x"
        model.submit(busy, 0.0)
    model.advance(0.0)
    assert {model.jobs["busy0"].allocation[0], model.jobs["busy2"].allocation[0]} == {"n0", "n2"}
    wide = job("wide", 2, 4, 100, 100, 0)
    wide.gpu_type, wide.switches, wide.switch_wait = "y", 1, 300.0
    model.submit(wide, 10.0)
    model.advance(10.0)
    assert model.jobs["wide"].state == PENDING
    assert model.advance(200.0) == []
    assert model.next_event_time() == 310.0
    assert started(model.advance(310.0)) == {"wide"}
    assert sorted(model.jobs["wide"].allocation) == ["n1", "n3"]


def test_switches_is_met_at_once_when_one_switch_has_room() -> None:
    nodes = [SlurmNode(f"n{i}", gpus=4, switch=f"s{i // 2}") for i in range(4)]
    model = SlurmModel(nodes)
    wide = job("wide", 2, 4, 100, 100, 0)
    wide.switches, wide.switch_wait = 1, 300.0
    model.submit(wide, 0.0)
    assert started(model.advance(0.0)) == {"wide"}
    assert len({model.nodes[n].switch for n in model.jobs["wide"].allocation}) == 1


def test_estimate_start_behind_the_reservations_like_test_only() -> None:
    model = two_nodes()
    model.submit(job("A", 1, 2, 100, 100, 50), 0.0)
    model.submit(job("B", 2, 4, 50, 50, 40), 0.0)
    model.advance(0.0)
    assert model.estimate_start(job("probe", 2, 4, 10, 10, 0), 0.0) == 150.0  # after B's [100, 150)
    assert model.estimate_start(job("small", 1, 2, 100, 1, 0), 0.0) == 0.0  # fits beside A before B
    assert model.estimate_start(job("huge", 3, 4, 10, 10, 0), 0.0) is None


def test_impossible_jobs_are_refused_at_submit() -> None:
    model = two_nodes()
    with pytest.raises(ValueError, match="node configuration is not available"):
        model.submit(job("big", 1, 8, 10, 10, 0), 0.0)


def test_cancel_releases_the_nodes() -> None:
    model = two_nodes()
    model.submit(job("A", 2, 4, 100, 100, 0), 0.0)
    model.advance(0.0)
    model.cancel("A", 5.0)
    assert model.gpus_used() == 0
    model.submit(job("B", 2, 4, 100, 100, 0), 5.0)
    assert started(model.advance(5.0)) == {"B"}


def test_the_cached_node_splits_schedule_as_fresh_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model keeps each job shape's split of nodes (room now / busy) current from a log of touched
    nodes; with the log starting over after every entry (so every split is rebuilt) a busy random workload
    must schedule identically, start times, nodes and estimates alike."""
    import random

    from dualtrack.sim.models import slurm

    def run() -> tuple[list[tuple[str, float | None, tuple[str, ...]]], list[float | None]]:
        rng = random.Random(7)
        model = SlurmModel([SlurmNode(f"n{i}", gpus=rng.choice((4, 8)), cpus=32, memory_mib=1000,
                                      switch=f"s{i // 4}") for i in range(12)], max_reservations=3)
        estimates: list[float | None] = []
        for step in range(60):
            now = step * 30.0
            for k in range(rng.randint(0, 3)):
                model.submit(SlurmJob(f"j{step}-{k}", nodes=rng.randint(1, 3), gpus_per_node=rng.choice((1, 2, 4)),
                                      cpus_per_node=rng.choice((1, 4)), memory_mib_per_node=rng.choice((10, 100)),
                                      time_limit=rng.choice((60.0, 300.0)), run_seconds=rng.choice((30.0, 200.0)),
                                      priority=rng.randint(1, 5)), now)
            model.advance(now)
            probe = SlurmJob("probe", nodes=2, gpus_per_node=2, cpus_per_node=1, memory_mib_per_node=1,
                             time_limit=120.0, run_seconds=1.0)
            estimates.append(model.estimate_start(probe, now))
        return [(j.key, j.start_time, j.allocation) for j in model.jobs.values()], estimates

    cached = run()
    monkeypatch.setattr(slurm, "_TOUCHED_LOG_MAX", 0)
    assert run() == cached
    assert sum(1 for _, start, _ in cached[0] if start is not None) > 20  # the workload did run
