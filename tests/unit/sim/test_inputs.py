"""Trace CSV and clusters YAML: the formats of docs/simulation.md, errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualtrack.sim.replay.clusters import ClustersError, load_clusters, parse_clusters, static_split
from dualtrack.sim.replay.trace import HEADER, TraceError, read_trace
from tests.unit.sim.helpers import trace_job, two_backends

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "sim" / "philly-rfold-50.csv"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sim" / "philly-clusters.yaml"


def test_fixture_trace_reads_with_limits_and_compression() -> None:
    jobs = read_trace(FIXTURE, time_limit_factor=3.0, compress=2.0)
    assert len(jobs) == 50
    first = jobs[0]
    assert (first.id, first.workers, first.gpu_type, first.datasets) == ("philly-83670", 1, None, ())
    assert first.time_limit == 3 * first.duration
    assert jobs[-1].submit == max(j.submit for j in jobs)
    assert read_trace(FIXTURE)[3].submit == 2 * jobs[3].submit


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,0,-5,1,1,,8,1024,a,", "duration: must be > 0"),
        ("x,0,10,1.5,1,,8,1024,a,", "workers: must be a whole number"),
        ("x,zero,10,1,1,,8,1024,a,", "submit: not a number"),
        ("x,0,10,1,1,,8,1024,a", "9 fields"),
    ],
)
def test_bad_rows_name_line_and_field(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(TraceError, match=f":2: {message}"):
        read_trace(write(tmp_path, ",".join(HEADER) + "\n" + row + "\n"))


def test_wrong_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="header must be"):
        read_trace(write(tmp_path, "id,submit\n1,2\n"))


def test_time_limit_column_wins(tmp_path: Path) -> None:
    path = write(tmp_path, ",".join(HEADER) + ",time_limit\nx,0,10,1,1,v100,8,1024,a,d1;d2,15\n")
    (job,) = read_trace(path)
    assert (job.time_limit, job.gpu_type, job.datasets) == (15.0, "v100", ("d1", "d2"))


def test_example_clusters_file_loads() -> None:
    clusters = load_clusters(EXAMPLE)
    assert [(b.name, b.track, b.gpus) for b in clusters.backends] == [
        ("k8s-p40", "kubernetes", 512), ("slurm-p100", "slurm", 1024)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"backends": []}, "backends: must be a non-empty list"),
        ({"backends": [{"name": "k", "track": "mesos", "nodes": [{"count": 1, "gpus": 1}]}]}, r"backends\[0\].track"),
        ({"backends": [{"name": "k", "track": "slurm", "nodes": [{"count": 0, "gpus": 1}]}]},
         r"backends\[0\].nodes\[0\].count: must be >= 1"),
        ({"backends": [{"name": "k", "track": "slurm", "nodes": [{"count": 1, "gpus": 1}], "queues": []}]},
         r"backends\[0\].queues: a slurm backend has partitions"),
        ({"backends": [{"name": "k", "track": "slurm", "nodes": [{"count": 1, "gpus": 1}]}],
          "staticSplit": {"a": "nope"}}, "staticSplit.a: no backend named 'nope'"),
    ],
)
def test_bad_clusters_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ClustersError, match=message):
        parse_clusters(data)


def test_static_split_rule_balances_gpu_seconds_per_gpu() -> None:
    """k has 4 GPUs, s has 4 (helpers). Demand: a 400, b 300, c 200, d 100 GPU-s. Largest first, each to the
    backend with the fewest GPU-seconds per GPU so far (ties: first listed): a -> k (0 = 0), b -> s (100 > 0),
    c -> s (100 > 75), d -> k (100 < 125)."""
    jobs = [trace_job("1", 0, 400, tenant="a"), trace_job("2", 0, 300, tenant="b"),
            trace_job("3", 0, 200, tenant="c"), trace_job("4", 0, 100, tenant="d")]
    assert static_split(two_backends(), jobs) == {"a": "k", "b": "s", "c": "s", "d": "k"}
    assert static_split(two_backends(split={"a": "s"}), jobs)["a"] == "s"
