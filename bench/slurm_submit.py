"""Slurm adapter submit latency against raw ``sbatch --parsable`` in the same run, and submit-to-RUNNING time.

Needs the local cluster (``scripts/slurm/start.sh``). Usage:
    .venv/bin/python bench/slurm_submit.py [--count 30] [--to-running 10] [--transport cli|rest]

1. Latency: ``count`` rounds; each round submits one job through ``SlurmBackend.submit`` and the same
   rendered script through a raw ``sbatch --parsable`` subprocess (alternating order), so both see the same
   controller load. The adapter's first call (it lists the cluster's jobs once per process) is reported apart.
2. Submit-to-RUNNING, once phase 1's jobs have left the queue: ``to-running`` jobs one at a time: submit
   through the adapter, poll ``observe`` every 20 ms until RUNNING, cancel.
Reported: medians and p90s (targets: ratio <= 1.2, submit-to-RUNNING median <= 3 s).
Prints figures only; asserts nothing. Every job it submitted is cancelled at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dualtrack.adapters.slurm import SlurmBackend, from_config  # noqa: E402
from dualtrack.adapters.slurm.render import script_text  # noqa: E402
from dualtrack.broker.domain import BackendPhase, Job, Placement, new_job_id, parse_spec  # noqa: E402


def read_env(state_dir: Path) -> dict[str, str]:
    env_file = state_dir / "env"
    if not env_file.exists():
        sys.exit(f"{env_file} missing: run scripts/slurm/start.sh first")
    out = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            out[key] = value
    return out


def job(command: list[str], gpus: int) -> Job:
    spec = parse_spec({"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "bench"},
                       "spec": {"image": "busybox", "command": command,
                                "resources": {"gpusPerWorker": gpus, "cpusPerWorker": 1, "memoryPerWorker": "100Mi"},
                                "timeLimit": "5m"}})
    return Job(id="jbench" + new_job_id()[6:], spec=spec)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float], unit: float = 1000.0, suffix: str = "ms") -> str:
    return (f"median {statistics.median(values) * unit:7.1f} {suffix}   p90 {percentile(values, 0.9) * unit:7.1f} "
            f"{suffix}   (n={len(values)})")


def wait_until_drained(backend: SlurmBackend, job_ids: set[str], limit_s: float = 180.0) -> float:
    """Wait until none of ``job_ids`` is pending or running, so phase 2 does not measure phase 1's backlog."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        busy = [r for r in backend.transport.jobs() if r.job_id in job_ids and r.state in ("PENDING", "RUNNING")]
        if not busy:
            break
        time.sleep(0.2)
    return time.perf_counter() - t0


def settings_for(env: dict[str, str], transport: str) -> dict[str, Any]:
    base: dict[str, Any] = {"slurmConf": env["SLURM_CONF"], "outputDir": env["DUALTRACK_SLURM_OUTPUT_DIR"],
                            "container": {"runtime": "none"}}
    if transport == "rest":
        base |= {"transport": "rest", "rest": {"url": env["DUALTRACK_SLURM_REST_URL"],
                                               "tokenFile": env["DUALTRACK_SLURM_REST_TOKEN_FILE"]}}
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--to-running", type=int, default=10)
    parser.add_argument("--transport", choices=["cli", "rest"], default="cli")
    args = parser.parse_args()
    env = read_env(Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm")))
    backend: SlurmBackend = from_config("slurm-bench", settings_for(env, args.transport))
    raw_env = {**os.environ, "SLURM_CONF": env["SLURM_CONF"]}
    placement = Placement("slurm-bench")
    submitted: list[str] = []

    try:
        started = time.perf_counter()
        first = backend.submit(job(["true"], 0), placement)
        first_call = time.perf_counter() - started
        submitted.append(first.native_id)

        adapter_s: list[float] = []
        raw_s: list[float] = []
        for i in range(args.count):
            adapter_job = job(["true"], 0)
            script = script_text(backend.request_for(job(["true"], 0), placement))

            def via_adapter(j: Job = adapter_job) -> None:
                t0 = time.perf_counter()
                ref = backend.submit(j, placement)
                adapter_s.append(time.perf_counter() - t0)
                submitted.append(ref.native_id)

            def via_sbatch(text: str = script) -> None:
                t0 = time.perf_counter()
                done = subprocess.run(["sbatch", "--parsable"], input=text, capture_output=True, text=True,
                                      env=raw_env, check=True)
                raw_s.append(time.perf_counter() - t0)
                submitted.append(done.stdout.strip().split(";")[0])

            for step in ((via_adapter, via_sbatch) if i % 2 == 0 else (via_sbatch, via_adapter)):
                step()

        drained_in = wait_until_drained(backend, set(submitted))
        to_running: list[float] = []
        for _ in range(args.to_running):
            t0 = time.perf_counter()
            ref = backend.submit(job(["sleep", "60"], 1), placement)
            submitted.append(ref.native_id)
            while True:
                seen = backend.observe([ref])[ref]
                if seen.phase is not BackendPhase.PENDING:
                    break
                time.sleep(0.02)
            to_running.append(time.perf_counter() - t0)
            backend.cancel(ref)
    finally:
        if submitted:
            subprocess.run(["scancel", *submitted], env=raw_env, capture_output=True, check=False)
        backend.close()

    ratio = statistics.median(adapter_s) / statistics.median(raw_s)
    print(f"Slurm submit bench ({args.transport} transport, {time.strftime('%Y-%m-%d %H:%M:%S')})")
    print(f"  adapter first call (lists jobs once): {first_call * 1000:.1f} ms")
    print(f"  adapter submit   {summary(adapter_s)}")
    print(f"  raw sbatch       {summary(raw_s)}")
    print(f"  ratio adapter/raw (medians): {ratio:.2f}   target <= 1.2 -> {'OK' if ratio <= 1.2 else 'OVER'}")
    median_run = statistics.median(to_running)
    print(f"  (phase 1's {len(submitted) - args.to_running} jobs drained in {drained_in:.1f} s before phase 2)")
    print(f"  submit-to-RUNNING {summary(to_running, 1.0, 's')}   target median <= 3 s -> "
          f"{'OK' if median_run <= 3 else 'OVER'}")


if __name__ == "__main__":
    main()
