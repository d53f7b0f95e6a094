"""Properties of every policy's replay over random small traces (hypothesis)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dualtrack.sim.replay.cluster import expand_nodes
from dualtrack.sim.replay.clusters import Clusters
from dualtrack.sim.replay.runner import POLICIES, PolicyRun, ReplayOptions, run_policy
from dualtrack.sim.replay.trace import TraceJob
from tests.unit.sim.helpers import trace_job, two_backends

CLUSTERS = two_backends(k8s_nodes=2, slurm_nodes=3, gpus=4)


@st.composite
def traces(draw: st.DrawFn) -> list[TraceJob]:
    count = draw(st.integers(1, 10))
    jobs = []
    for i in range(count):
        workers = draw(st.integers(1, 2))
        jobs.append(trace_job(f"j{i}", draw(st.integers(0, 400)), draw(st.integers(1, 300)), workers=workers,
                              gpus=draw(st.integers(1, 4)), tenant=draw(st.sampled_from("abc")),
                              limit_factor=draw(st.sampled_from((1.0, 1.5, 2.0)))))
    return sorted(jobs, key=lambda j: j.submit)


def capacities(clusters: Clusters, policy: str) -> dict[tuple[str, str], tuple[int, int, int]]:
    out = {}
    for backend in clusters.backends:
        name = "single-pool" if policy == "single-pool" else backend.name
        for node, group, _ in expand_nodes(name, backend.nodes):
            out[(name, node)] = (group.gpus, group.cpus, group.memory_mib)
    if policy == "single-pool":  # the merged cluster numbers its node groups in backend order
        groups = [g for b in clusters.backends for g in b.nodes]
        out = {("single-pool", n): (g.gpus, g.cpus, g.memory_mib) for n, g, _ in expand_nodes("single-pool", groups)}
    return out


def check_no_overallocation(run: PolicyRun, jobs: dict[str, TraceJob], policy: str) -> None:
    capacity = capacities(CLUSTERS, policy)
    instants = sorted({a[3] for a in run.allocations})
    for at in instants:
        used: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for trace_id, backend, nodes, start, end in run.allocations:
            if start <= at and (end is None or at < end):
                job = jobs[trace_id]
                for node in nodes:
                    slot = used[(backend, node)]
                    slot[0] += job.gpus_per_worker
                    slot[1] += job.cpus_per_worker
                    slot[2] += job.memory_mib_per_worker
        for key, (gpus, cpus, mem) in used.items():
            total = capacity[key]
            assert gpus <= total[0] and cpus <= total[1] and mem <= total[2], (policy, at, key, used[key])


def check_usage_series(run: PolicyRun, jobs: dict[str, TraceJob]) -> None:
    """The GPUs in use each cluster reported at every sample (its counters, kept between samples) equal those
    of the allocations running then."""
    assert run.series_t, "the replay took no samples"
    for name, used in run.series_used.items():
        for at, reported in zip(run.series_t, used, strict=True):
            running = sum(jobs[a[0]].workers * jobs[a[0]].gpus_per_worker for a in run.allocations
                          if a[1] == name and a[3] <= at and (a[4] is None or at < a[4]))
            assert reported == running, (run.policy, name, at, reported, running)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces())
def test_every_policy_starts_after_submit_never_overallocates_and_ends_every_job(jobs: list[TraceJob]) -> None:
    by_id = {j.id: j for j in jobs}
    for policy in POLICIES:
        run = run_policy(policy, jobs, CLUSTERS, ReplayOptions(cycle_seconds=10.0))
        for record in run.records:
            assert record.state in ("COMPLETED", "TIMEOUT"), (policy, record)
            assert record.start is not None and record.end is not None
            assert record.start >= record.submit, (policy, record)
            job = by_id[record.id]
            assert record.end == record.start + min(job.duration, job.time_limit), (policy, record)
        check_no_overallocation(run, by_id, policy)
        check_usage_series(run, by_id)
