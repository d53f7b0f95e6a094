"""``dualtrack top`` frames rendered from exposition text produced by a real BrokerMetrics."""

from __future__ import annotations

from prometheus_client import generate_latest
from typer.testing import CliRunner

from dualtrack.broker.cli.top_cmd import app, render_text
from dualtrack.broker.domain import ClusterSnapshot, NodeCapacity, PoolCapacity
from dualtrack.broker.metrics import BrokerMetrics
from dualtrack.broker.metrics.reading import quantile, read_view


def busy_broker() -> BrokerMetrics:
    metrics = BrokerMetrics()
    metrics.observe_snapshot(ClusterSnapshot(
        backend="kube-a", kind="volcano", taken_at=1.0, running_jobs=2,
        nodes=(NodeCapacity("k1", "h100", gpus_total=8, gpus_free=2),
               NodeCapacity("k2", "l40s", gpus_total=4, gpus_free=4)),
        pools=(PoolCapacity("research", "queue", pending_jobs=3, pending_gpus=12), PoolCapacity("prod", "queue")),
    ))
    metrics.observe_snapshot(ClusterSnapshot(
        backend="slurm-a", kind="slurm", taken_at=1.0, running_jobs=1,
        nodes=(NodeCapacity("s1", "a100", gpus_total=8, gpus_free=0),),
        pools=(PoolCapacity("gpu", "partition", pending_jobs=1, pending_gpus=8),),
    ))
    metrics.observe_snapshot(ClusterSnapshot.down("slurm-b", "slurm", 1.0, "connection refused"))
    for _ in range(3):
        metrics.placement("kube-a", "placed")
    metrics.placement("slurm-a", "placed")
    metrics.placement("", "unschedulable")
    metrics.reroute("slurm-a", "kube-a", "pending_timeout")
    metrics.retry("slurm-a", "infra")
    metrics.submission("vision-qa", "accepted")
    metrics.submission("vision-qa", "invalid")
    for seconds in (0.2, 0.4, 12.0):
        metrics.scheduling_latency("kube-a", seconds)
    counts = [("RUNNING", "kube-a", "vision-qa", 2), ("QUEUED", "kube-a", "vision-qa", 1),
              ("ACCEPTED", "", "vision-qa", 4)]
    metrics.set_job_counts_source(lambda: counts)
    return metrics


def exposition(metrics: BrokerMetrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_the_view_reads_the_numbers_back() -> None:
    view = read_view(exposition(busy_broker()))
    kube = view.backends["kube-a"]
    assert kube.up is True and view.backends["slurm-b"].up is False
    assert (kube.gpus["h100"].allocated, kube.gpus["h100"].total, kube.gpus["h100"].free) == (6, 8, 2)
    assert kube.utilization == 6 / 12
    assert kube.pools["research"].pending_jobs == 3 and kube.pools["research"].pending_gpus == 12
    assert kube.jobs_by_state["RUNNING"] == 2 and view.unplaced_jobs_by_state["ACCEPTED"] == 4
    assert kube.placed == 3
    assert view.reroutes[("slurm-a", "kube-a", "pending_timeout")] == 1
    assert view.retries[("slurm-a", "infra")] == 1
    assert kube.scheduling_p99_s is not None and 10 < kube.scheduling_p99_s <= 15


def rows(text: str) -> list[list[str]]:
    """The table rows of a rendered frame as lists of stripped cells."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in text.splitlines()
            if line.startswith("│")]


def test_one_frame_shows_clusters_pools_and_routing() -> None:
    text = render_text(read_view(exposition(busy_broker())))
    table = rows(text)
    assert ["kube-a", "UP", "h100", "6/8", "2", "50%", "2", "1", "375ms/14.8s", "-"] in table
    assert ["", "", "l40s", "0/4", "4", "", "", "", "", ""] in table
    assert ["slurm-b", "DOWN", "-", "-", "-", "-", "0", "0", "-/-", "-"] in table
    assert ["kube-a", "research", "3", "12"] in table
    assert ["placed -> kube-a", "3"] in table
    assert ["unschedulable (no backend)", "1"] in table
    assert ["reroute slurm-a -> kube-a (pending_timeout)", "1"] in table
    assert ["retry on slurm-a (infra)", "1"] in table
    assert "jobs waiting for placement: 4" in text


def test_a_live_frame_shows_what_changed_since_the_previous_one() -> None:
    metrics = busy_broker()
    before = read_view(exposition(metrics))
    metrics.placement("kube-a", "placed")
    metrics.placement("kube-a", "placed")
    text = render_text(read_view(exposition(metrics)), previous=before)
    assert ["placed -> kube-a", "5 (+2)"] in rows(text)
    assert ["placed -> slurm-a", "1 (+0)"] in rows(text)


def test_quantile_interpolates_like_histogram_quantile() -> None:
    buckets = [(1.0, 0.0), (10.0, 10.0), (float("inf"), 10.0)]
    assert quantile(0.5, buckets) == 5.5
    assert quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None
    assert quantile(0.99, [(1.0, 0.0), (10.0, 0.0), (float("inf"), 4.0)]) == 10.0


def test_once_against_a_served_endpoint_and_a_dead_one() -> None:
    metrics = busy_broker()
    port = metrics.serve("127.0.0.1", 0)
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["--metrics-url", f"http://127.0.0.1:{port}/metrics", "--once"])
    finally:
        metrics.close()
    assert result.exit_code == 0, result.output
    assert "kube-a" in result.output and "research" in result.output
    dead = runner.invoke(app, ["--metrics-url", f"http://127.0.0.1:{port}/metrics", "--once"])
    assert dead.exit_code == 1
    assert "--metrics-url" in dead.output
