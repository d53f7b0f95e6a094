"""Crash recovery: SIGKILL the broker at least 10 times during a burst of at least 1,000 submissions across
both tracks (the local Slurm cluster and an in-process Kubernetes API simulator), restart it each time, let
it settle, then check that every acknowledged submission exists exactly once in the store and at most once
on the backends (per job id and attempt, counting backend objects by name).

Needs the local Slurm cluster (scripts/slurm/start.sh). Usage:
    .venv/bin/python bench/crash_recovery.py [--total 1000] [--kills 10] [--rate 20] [--store-url URL]
Prints ``lost=N duplicated=N`` and the counts; exits 1 when anything was lost or duplicated.
The same run is the test tests/integration/lifecycle/test_crash_recovery.py (marker slow).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.lifecycle.cluster import SLURM_SKIP, slurm_env  # noqa: E402
from tests.integration.lifecycle.crash import run_crash  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=1000, help="submissions in the burst")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of the broker")
    parser.add_argument("--rate", type=float, default=20.0, help="submissions per second")
    parser.add_argument("--store-url", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--settle-timeout", type=float, default=240.0)
    args = parser.parse_args()
    env = slurm_env()
    if env is None:
        print(SLURM_SKIP, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dt-crash-") as folder:
        report = run_crash(Path(folder), env, total=args.total, kills=args.kills, rate=args.rate,
                           store_url=args.store_url, settle_timeout=args.settle_timeout)
    print(report.summary())
    for line in (report.lost + report.duplicated + report.unfinished + report.errors)[:20]:
        print("  ", line)
    return 0 if not report.lost and not report.duplicated and not report.unfinished else 1


if __name__ == "__main__":
    raise SystemExit(main())
