"""Must show: SIGKILL the broker 10 times during a burst of 1,000 submissions across both tracks (real Slurm
and the Kubernetes simulator); afterwards every acknowledged submission exists exactly once in the store and
at most once on the backends, and every job finished. The same run is bench/crash_recovery.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.lifecycle.crash import run_crash

pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.exclusive]


@pytest.mark.timeout(900)  # about 2.5 min alone on 2 cores; more when other tests share the Slurm cluster
def test_kill_9_during_a_burst_loses_and_duplicates_nothing(tmp_path: Path, slurm: dict[str, str]) -> None:
    report = run_crash(tmp_path, slurm, total=1000, kills=10)
    print(report.summary())
    assert report.kills_during_burst >= 10, report.summary()
    assert report.acknowledged == 1000 and not report.errors, report.errors[:5]
    assert report.lost == [], report.lost[:10]
    assert report.duplicated == [], report.duplicated[:10]
    assert report.unfinished == [], report.unfinished[:10]
    assert report.slurm_objects == 500 and report.kube_objects == 500
