from __future__ import annotations

import pytest

from dualtrack.adapters.slurm.hostlist import expand_hostlist
from dualtrack.adapters.slurm.text import (
    minutes_text_to_seconds,
    parse_partitions_text,
    parse_sacct_parsable,
    parse_test_only,
    parse_topology,
    slurm_time_to_epoch,
)

from .conftest import FIXTURES


@pytest.mark.parametrize(
    ("text", "names"),
    [("n[1-4]", ["n1", "n2", "n3", "n4"]), ("n[1,3-4]", ["n1", "n3", "n4"]),
     ("gpu[09-11]", ["gpu09", "gpu10", "gpu11"]),
     ("a[1-2]b[1-2]", ["a1b1", "a1b2", "a2b1", "a2b2"]), ("login1,n[1-2]", ["login1", "n1", "n2"]),
     ("", []), ("None assigned", []), ("(null)", [])],
)
def test_expand_hostlist(text: str, names: list[str]) -> None:
    assert expand_hostlist(text) == names


def test_topology_of_the_local_cluster() -> None:
    switches = {s.name: s for s in parse_topology((FIXTURES / "topology_22.05.8.txt").read_text())}
    assert switches["leaf1"].nodes == ("n1", "n2") and switches["leaf2"].nodes == ("n3", "n4")
    assert switches["spine"].children == ("leaf1", "leaf2") and switches["spine"].level == 1


def test_partitions_text() -> None:
    (gpu,) = parse_partitions_text((FIXTURES / "partitions_22.05.8.txt").read_text())
    assert (gpu.name, gpu.up, gpu.max_time_s, gpu.nodes) == ("gpu", True, None, "n[1-4]")
    (short,) = parse_partitions_text("PartitionName=short State=DOWN MaxTime=01:00:00 Nodes=n1")
    assert (short.up, short.max_time_s) == (False, 3600)


def test_test_only_estimate_and_refusal() -> None:
    ok = parse_test_only("", "sbatch: Job 6 to start at 2026-11-27T16:41:32 using 1 processors on nodes n1 in "
                             "partition gpu\n", 0)
    assert ok.error is None and ok.nodes == "n1" and ok.start == slurm_time_to_epoch("2026-11-27T16:41:32")
    refused = parse_test_only("", "allocation failure: Requested node configuration is not available\n", 1)
    assert refused.start is None and refused.error == "Requested node configuration is not available"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 1800), ("00:05:00", 300), ("1:00:00", 3600), ("365-00:00:00", 365 * 86400), ("UNLIMITED", None),
     ("Partition_Limit", None), ("", None)],
)
def test_time_limits(text: str, seconds: int | None) -> None:
    assert minutes_text_to_seconds(text) == seconds


@pytest.mark.parametrize("name", ["sacct_parsable_22.05.8.txt", "sacct_jobcomp_22.05.8.txt"])
def test_sacct_parsable_from_slurmdbd_and_jobcomp(name: str) -> None:
    jobs = {j.job_id: j for j in parse_sacct_parsable((FIXTURES / name).read_text())}
    assert (jobs["20"].state, jobs["20"].exit_code) == ("FAILED", 3)
    assert (jobs["21"].state, jobs["21"].signal) == ("FAILED", 9)
    assert jobs["22"].state == "CANCELLED" and jobs["23"].state == "TIMEOUT"
    assert jobs["23"].time_limit_s == 60 and jobs["19"].nodes == "n[1-4]"
