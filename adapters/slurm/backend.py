"""``SlurmBackend``: the Backend Protocol (adapters/base.py) for one Slurm site, plus the optional
``StartEstimator`` capability (``estimate_start``) and ``check`` (why a job can never run here).

Callers: the broker's handlers (snapshot, render, check, estimate_start) and reconciler (submit, observe,
cancel, managed). All Slurm I/O goes through one ``SlurmTransport`` (JSON CLI locally or over SSH, or
slurmrestd); every method raises ``BackendUnavailable`` when the controller cannot be reached.

Idempotent submit: ``dt-<id>-<attempt>`` is looked up among the jobs slurmctld holds before submitting. The
adapter lists them once (on first use, and again after any failed or uncertain submit) and then remembers
the names it submitted itself, so a steady-state submit costs one ``sbatch``. This assumes one broker
process submits to a backend at a time (the reconciler's leader), which is the broker's deployment model.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from dualtrack.adapters.base import BackendUnavailable, SubmitRejected
from dualtrack.adapters.slurm.capacity import build_snapshot
from dualtrack.adapters.slurm.hostlist import expand_hostlist
from dualtrack.adapters.slurm.records import JobRecord
from dualtrack.adapters.slurm.render import BatchRequest, build_request, script_text
from dualtrack.adapters.slurm.rest import RestTransport
from dualtrack.adapters.slurm.settings import SLURM_NAME, SlurmSettings
from dualtrack.adapters.slurm.states import phase_of, reason_text
from dualtrack.adapters.slurm.transport import SlurmTransport
from dualtrack.broker.domain import (
    BackendPhase,
    BackendRef,
    ClusterSnapshot,
    Feature,
    Job,
    ManagedJob,
    Observed,
    Placement,
    parse_backend_object_name,
)

TERMINAL = (BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED)
_COMMENT = re.compile(r"^dualtrack:([a-z0-9]+):(\d+)$")
_SIF_FILE = re.compile(r"^sha256-([0-9a-f]{64})\.sif$")  # broker.domain.image.sif_filename


class SlurmBackend:
    kind = "slurm"
    track = "slurm"

    def __init__(
        self,
        name: str,
        settings: SlurmSettings,
        transport: SlurmTransport,
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.settings = settings
        self.transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[str, str] | None = None  # object name -> Slurm job id; None = must list again
        self.unsupported: Mapping[Feature, str] = self._unsupported()

    def forget_submissions(self) -> None:
        """Drop the cached name -> job id map (a new reconciler leader: another may have submitted since)."""
        with self._lock:
            self._names = None

    @property
    def needs_sif(self) -> bool:
        """True when jobs run from a SIF (apptainer, singularity, sif-bwrap); False for runtime none."""
        return self.settings.container.runtime != "none"

    @property
    def checkpoint_root(self) -> str | None:
        """The host folder bound at /checkpoints in YOLO jobs (``checkpointRoot``), if configured."""
        return self.settings.checkpoint_root

    @property
    def mountable_datasets(self) -> frozenset[str]:
        """The ``datasets`` map's names; none with runtime ``none`` (no container, so nothing is bound)."""
        if self.settings.container.runtime == "none":
            return frozenset()
        return frozenset(self.settings.datasets)

    def _unsupported(self) -> Mapping[Feature, str]:
        out = {Feature.TOPOLOGY_NODE: "one worker is one Slurm node allocation (--ntasks-per-node=1); a gang of "
                                      "several workers is never packed onto one node (best effort: one switch)"}
        # apiVersion auto: known once the transport has asked the server (snapshot() refreshes this map)
        rest = self.settings.rest if self.settings.transport == "rest" else None
        version = self.transport.api_version if isinstance(self.transport, RestTransport) else (
            rest.api_version if rest else None)
        if version == "v0.0.38":
            out[Feature.TOPOLOGY_SWITCH] = ("slurmrestd v0.0.38 has no --switches field; use transport cli/ssh or "
                                            "slurmrestd v0.0.39+")
        return out

    # ------------------------------------------------------------------------------------------- helpers
    def request_for(self, job: Job, placement: Placement) -> BatchRequest:
        """The BatchRequest of one attempt; raises SubmitRejected when it cannot be expressed here."""
        if placement.pool is not None and not SLURM_NAME.match(placement.pool):
            raise SubmitRejected(f"placement pool {placement.pool!r} is not a Slurm partition name")
        return build_request(job, placement, self.settings)

    def _ref(self, name: str, job_id: str) -> BackendRef:
        return BackendRef(backend=self.name, name=name, native_id=job_id)

    def _known_names(self) -> dict[str, str]:
        if self._names is None:
            names: dict[str, str] = {}
            for record in sorted(self.transport.jobs(), key=lambda r: int(r.job_id)):
                if parse_backend_object_name(record.name):
                    names[record.name] = record.job_id
            self._names = names
        return self._names

    # ------------------------------------------------------------------------------------------ protocol
    def render(self, job: Job, placement: Placement) -> str:
        return script_text(self.request_for(job, placement))

    def submit(self, job: Job, placement: Placement) -> BackendRef:
        request = self.request_for(job, placement)
        with self._lock:
            known = self._known_names()
            existing = known.get(request.name)
            if existing is not None:
                return self._ref(request.name, existing)
            try:
                job_id = self.transport.submit(request)
            except BackendUnavailable:
                self._names = None  # the job may or may not have arrived: look again next time
                raise
            known[request.name] = job_id
            return self._ref(request.name, job_id)

    def observe(self, refs: Sequence[BackendRef]) -> Mapping[BackendRef, Observed]:
        if not refs:
            return {}
        live = {r.job_id: r for r in self.transport.jobs()}
        gone = [ref.native_id for ref in refs if ref.native_id not in live]
        past = {r.job_id: r for r in self.transport.history(gone)} if gone else {}
        out: dict[BackendRef, Observed] = {}
        for ref in refs:
            record = live.get(ref.native_id) or past.get(ref.native_id)
            if record is None:
                out[ref] = Observed(ref, BackendPhase.MISSING, reason="Slurm does not know this job")
            elif record.name and record.name != ref.name:
                out[ref] = Observed(ref, BackendPhase.MISSING, native_state=record.state,
                                    reason=f"Slurm job {ref.native_id} is now {record.name!r}, not {ref.name!r}")
            else:
                out[ref] = self._observed(ref, record)
        return out

    def _observed(self, ref: BackendRef, record: JobRecord) -> Observed:
        mapped = phase_of(record)
        terminal = mapped.phase in TERMINAL
        return Observed(
            ref=ref,
            phase=mapped.phase,
            native_state="+".join((record.state, *record.flags)),
            reason=reason_text(record, mapped),
            exit_code=record.exit_code if terminal else None,
            failure=mapped.failure,
            started_at=record.start_time if mapped.phase is not BackendPhase.PENDING else None,
            finished_at=record.end_time if terminal else None,
            nodes=tuple(expand_hostlist(record.nodes)) if mapped.phase is not BackendPhase.PENDING else (),
        )

    def cancel(self, ref: BackendRef) -> None:
        self.transport.cancel(ref.native_id)

    def managed(self) -> Sequence[ManagedJob]:
        out = []
        for record in self.transport.jobs():
            parsed = parse_backend_object_name(record.name) or broker_job_of(record.comment)
            if parsed is not None:
                out.append(ManagedJob(self._ref(record.name, record.job_id), parsed[0], parsed[1],
                                      phase_of(record).phase))
        return out

    def snapshot(self) -> ClusterSnapshot:
        taken_at = self._clock()
        controller = self.transport.controller()
        if not controller.up:
            hosts = ", ".join(f"{host} {'UP' if ok else 'DOWN'}" for host, ok in controller.controllers)
            raise BackendUnavailable(f"slurmctld does not answer its ping ({hosts or 'no controller'})")
        nodes = self.transport.nodes()
        partitions = self.transport.partitions()
        switches = self.transport.topology()
        jobs = self.transport.jobs()
        snapshot = build_snapshot(self.name, taken_at, nodes, partitions, switches, jobs)
        self.unsupported = self._unsupported()
        return replace(snapshot, images=self.cached_images(), controller=controller)

    def cached_images(self) -> frozenset[str]:
        """Digests (``sha256:<hex>``) whose SIF is already in ``container.imageDir``; empty for runtime none."""
        container = self.settings.container
        if container.runtime == "none" or not container.image_dir:
            return frozenset()
        found = (_SIF_FILE.match(name) for name in self.transport.list_dir(container.image_dir))
        return frozenset(f"sha256:{m.group(1)}" for m in found if m)

    # ---------------------------------------------------------------------------------------- capabilities
    def estimate_start(self, job: Job, placement: Placement) -> float | None:
        """Slurm's own start estimate (epoch seconds) from ``sbatch --test-only``; None where it cannot tell."""
        result = self.transport.test_only(self.request_for(job, placement))
        return result.start if result is not None else None

    def check(self, job: Job, placement: Placement, snapshot: ClusterSnapshot | None = None) -> str | None:
        """Why ``job`` can never run on this backend, or None. Compares the request with the largest nodes of
        the partition (from ``snapshot`` or a fresh one) and asks ``sbatch --test-only`` (CLI transports);
        the reason quotes Slurm's own message when it refuses, e.g. ``Requested node configuration is not
        available``. Raises BackendUnavailable when Slurm cannot be asked."""
        request = self.request_for(job, placement)
        reasons = []
        static = self._static_misfit(job, request.partition, snapshot or self.snapshot())
        if static:
            reasons.append(static)
        verdict = self.transport.test_only(request)
        if verdict is not None and verdict.error:
            reasons.append(f"Slurm: {verdict.error}")
        return "; ".join(reasons) or None

    def _static_misfit(self, job: Job, partition: str, snapshot: ClusterSnapshot) -> str | None:
        res = job.spec.spec.resources
        if snapshot.pool(partition) is None:
            return f"partition {partition!r} does not exist"
        in_partition = [n for n in snapshot.nodes if not n.pools or partition in n.pools]
        wanted_type = self.settings.gpu_types.get(res.gpu_type, res.gpu_type) if res.gpu_type else None
        nodes = [part for n in in_partition for part in n.by_gpu_type()] if wanted_type else in_partition
        if wanted_type:
            nodes = [n for n in nodes if n.gpu_type == wanted_type]
            if not nodes:
                return f"no node of partition {partition!r} has GPUs of type {wanted_type!r}"
        largest = max((n.gpus_total for n in nodes), default=0)
        if res.gpus_per_worker > largest:
            kind = f" {wanted_type}" if wanted_type else ""
            return (f"asks {res.gpus_per_worker}{kind} GPUs per node but the largest node of partition "
                    f"{partition!r} has {largest}")
        fitting = [n for n in nodes if n.gpus_total >= res.gpus_per_worker
                   and n.cpus_total >= res.cpus_per_worker and n.memory_total >= res.memory_per_worker]
        if len(fitting) < res.workers:
            return (f"asks {res.workers} nodes with {res.gpus_per_worker} GPUs, {res.cpus_per_worker} CPUs and "
                    f"{res.memory_per_worker // 1024**2} MiB each but partition {partition!r} has {len(fitting)}")
        return None

    def close(self) -> None:
        self.transport.close()


def broker_job_of(comment: str) -> tuple[str, int] | None:
    """Inverse of ``render.comment_for``: (job id, attempt) from a ``--comment``; None for other comments."""
    match = _COMMENT.match(comment)
    return (match.group(1), int(match.group(2))) if match else None
