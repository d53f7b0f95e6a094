"""``CliTransport``: the Slurm JSON CLI (``squeue/sinfo/sacct --json``, ``scontrol``, ``sbatch``, ``scancel``)
through a ``CommandRunner`` (local or SSH). See ``transport.SlurmTransport`` for the contract.

Version notes: ``scontrol show nodes --json`` exists from 23.02 on; 22.05 and older use ``sinfo --json``
(same node shape). ``squeue --json`` ignores filters on 22.05, so ``jobs()`` lists every job once. Jobs that
left slurmctld are read from ``sacct`` (slurmdbd) or, where accounting is disabled, ``sacct -c`` (the jobcomp
file), in sacct's parsable text (see ``history``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.slurm.health import health_from_scontrol_ping, sdiag_statistics, with_diag
from dualtrack.adapters.slurm.parsers import errors_of, parse_jobs, parse_nodes
from dualtrack.adapters.slurm.records import JobRecord, NodeRecord, PartitionRecord, SwitchRecord, TestOnlyResult
from dualtrack.adapters.slurm.render import BatchRequest, script_text
from dualtrack.adapters.slurm.text import parse_partitions_text, parse_sacct_parsable, parse_test_only, parse_topology
from dualtrack.adapters.slurm.transport import CommandResult, CommandRunner, looks_unreachable
from dualtrack.broker.domain import ControllerHealth

_SACCT_FIELDS = "jobid,jobname,state,exitcode,start,end,nodelist,partition,timelimit,submit,alloctres"
_CANCEL_DONE = ("invalid job id", "already completing or completed", "job has already finished")


class CliTransport:
    def __init__(self, runner: CommandRunner):
        self._runner = runner
        self._version: tuple[int, int] | None = None

    # ---------------------------------------------------------------------------------------- helpers
    def _run(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        return self._runner.run(argv, stdin)

    def _json(self, argv: Sequence[str]) -> Any:
        result = self._run(argv)
        text = result.stdout.strip()
        if result.returncode != 0 or not text.startswith("{"):
            message = (result.stderr or result.stdout).strip()[-500:]
            raise BackendUnavailable(f"{' '.join(argv)} failed (exit {result.returncode}): {message}")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackendUnavailable(f"{' '.join(argv)} printed malformed JSON: {exc}") from exc
        errors = errors_of(doc)
        if errors:  # 22.05 squeue/sinfo --json exit 0 with errors when slurmctld is down
            raise BackendUnavailable(f"{' '.join(argv)}: {'; '.join(errors)}")
        return doc

    def version(self) -> tuple[int, int]:
        """(major, minor) of the site's Slurm, from ``sinfo --version`` (cached)."""
        if self._version is None:
            out = self._run(["sinfo", "--version"]).stdout
            match = re.search(r"(\d+)\.(\d+)", out)
            if match is None:
                raise BackendUnavailable(f"sinfo --version printed {out.strip()!r}")
            self._version = (int(match.group(1)), int(match.group(2)))
        return self._version

    # ---------------------------------------------------------------------------------------- protocol
    def submit(self, request: BatchRequest) -> str:
        result = self._run(["sbatch", "--parsable"], stdin=script_text(request))
        if result.returncode != 0:
            message = result.stderr.strip() or result.stdout.strip()
            if looks_unreachable(message):
                raise BackendUnavailable(f"sbatch: {message}")
            raise SubmitRejected(message.replace("sbatch: error: ", ""))
        job_id = result.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise BackendUnavailable(f"sbatch --parsable printed {result.stdout.strip()!r}")
        return job_id

    def test_only(self, request: BatchRequest) -> TestOnlyResult:
        result = self._run(["sbatch", "--test-only"], stdin=script_text(request))
        if result.returncode != 0 and looks_unreachable(result.stderr):
            raise BackendUnavailable(f"sbatch --test-only: {result.stderr.strip()}")
        return parse_test_only(result.stdout, result.stderr, result.returncode)

    def jobs(self) -> list[JobRecord]:
        return parse_jobs(self._json(["squeue", "--json"]))

    def history(self, job_ids: Sequence[str]) -> list[JobRecord]:
        """Jobs that left slurmctld, from ``sacct`` (slurmdbd), else ``sacct -c`` (the jobcomp file).

        Uses sacct's parsable text, not ``--json``: 22.05's ``sacct --json`` reports ``return_code 0`` for a
        job that exited 3 (see tests/fixtures/slurm/sacct_22.05.8.json), while the text says ``3:0``."""
        if not job_ids:
            return []
        ids = ",".join(job_ids)
        result = self._run(["sacct", "-X", "-P", "-n", "-o", _SACCT_FIELDS, "-j", ids])
        if result.returncode == 0:
            return parse_sacct_parsable(result.stdout)
        if looks_unreachable(result.stderr) and "accounting storage" not in result.stderr.lower():
            raise BackendUnavailable(f"sacct: {result.stderr.strip()}")
        jobcomp = self._run(["sacct", "-c", "-X", "-P", "-n", "-o", _SACCT_FIELDS, "-j", ids])
        return parse_sacct_parsable(jobcomp.stdout) if jobcomp.returncode == 0 else []

    def nodes(self) -> list[NodeRecord]:
        if self.version() >= (23, 2):
            return parse_nodes(self._json(["scontrol", "show", "nodes", "--json"]))
        return parse_nodes(self._json(["sinfo", "--json"]))

    def partitions(self) -> list[PartitionRecord]:
        result = self._run(["scontrol", "-o", "show", "partition"])
        if result.returncode != 0:
            raise BackendUnavailable(f"scontrol show partition: {result.stderr.strip()}")
        return parse_partitions_text(result.stdout)

    def topology(self) -> list[SwitchRecord]:
        result = self._run(["scontrol", "show", "topology"])
        if result.returncode != 0:
            if looks_unreachable(result.stderr):
                raise BackendUnavailable(f"scontrol show topology: {result.stderr.strip()}")
            return []  # topology/none or flat topology
        return parse_topology(result.stdout)

    def cancel(self, job_id: str) -> None:
        result = self._run(["scancel", job_id])
        message = (result.stderr + result.stdout).strip()
        if result.returncode == 0 or any(m in message.lower() for m in _CANCEL_DONE):
            return
        if looks_unreachable(message):
            raise BackendUnavailable(f"scancel {job_id}: {message}")
        raise BackendUnavailable(f"scancel {job_id} failed: {message}")

    def controller(self) -> ControllerHealth:
        """``scontrol ping`` (timed here: the round trip is the latency) and, when up, ``sdiag``'s scheduler
        figures (left out when sdiag fails: they are extras)."""
        started = time.monotonic()
        ping = self._run(["scontrol", "ping"])
        health = health_from_scontrol_ping(ping.stdout, time.monotonic() - started)
        if not health.controllers:
            message = (ping.stderr or ping.stdout).strip()[-300:]
            raise BackendUnavailable(f"scontrol ping (exit {ping.returncode}): {message}")
        if not health.up:
            return health
        diag = self._run(["sdiag"])
        return with_diag(health, sdiag_statistics(diag.stdout)) if diag.returncode == 0 else health

    def list_dir(self, path: str) -> list[str]:
        result = self._run(["ls", "-1", "--", path])
        return result.stdout.split() if result.returncode == 0 else []

    def close(self) -> None:
        self._runner.close()
