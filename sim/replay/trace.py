"""Reading a job trace (docs/simulation.md, "Trace CSV").

Header, exactly (an extra ``time_limit`` column is allowed at the end):
``id,submit,duration,workers,gpus_per_worker,gpu_type,cpus_per_worker,memory_mib_per_worker,tenant,datasets``
Seconds throughout; ``gpu_type`` empty = any; ``datasets`` ``;``-separated, may be empty. The time limit the
schedulers see is ``duration x time_limit_factor`` (rounded up to whole seconds, as Slurm and Kubernetes
take them) unless the row has its own ``time_limit``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER = ("id", "submit", "duration", "workers", "gpus_per_worker", "gpu_type", "cpus_per_worker",
          "memory_mib_per_worker", "tenant", "datasets")
OPTIONAL = ("time_limit",)


class TraceError(ValueError):
    """A trace file that does not follow the format; the message names the line and the field."""


@dataclass(frozen=True)
class TraceJob:
    id: str
    submit: float
    duration: float
    workers: int
    gpus_per_worker: int
    gpu_type: str | None
    cpus_per_worker: int
    memory_mib_per_worker: int
    tenant: str
    datasets: tuple[str, ...]
    time_limit: float

    @property
    def gpus(self) -> int:
        return self.workers * self.gpus_per_worker


def read_trace(path: str | Path, *, time_limit_factor: float = 2.0, compress: float = 1.0,
               limit: int | None = None) -> list[TraceJob]:
    """The jobs of ``path`` sorted by submit time (stable), submit times divided by ``compress``.
    Raises TraceError naming the line and field of the first bad value."""
    if compress <= 0:
        raise TraceError(f"compress: must be > 0 (got {compress})")
    if time_limit_factor < 1:
        raise TraceError(f"time_limit_factor: must be >= 1 (got {time_limit_factor})")
    jobs = list(_rows(Path(path), time_limit_factor, compress, limit))
    jobs.sort(key=lambda j: j.submit)
    return jobs


def _rows(path: Path, factor: float, compress: float, limit: int | None) -> Iterator[TraceJob]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header[: len(HEADER)] != HEADER or any(h not in OPTIONAL for h in header[len(HEADER):]):
            raise TraceError(f"{path}:1: header must be {','.join(HEADER)}[,time_limit] (got {','.join(header)})")
        has_limit = "time_limit" in header
        seen: set[str] = set()
        for line, row in enumerate(reader, start=2):
            if limit is not None and line - 2 >= limit:
                return
            if not row:
                continue
            if len(row) != len(header):
                raise TraceError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
            values = dict(zip(header, row, strict=True))
            job_id = values["id"].strip()
            if not job_id or job_id in seen:
                raise TraceError(f"{path}:{line}: id: {'empty' if not job_id else f'{job_id!r} repeated'}")
            seen.add(job_id)
            duration = _number(values, "duration", path, line, positive=True)
            limit_s = _number(values, "time_limit", path, line, positive=True) if has_limit \
                and values["time_limit"].strip() else duration * factor
            yield TraceJob(
                id=job_id,
                submit=_number(values, "submit", path, line) / compress,
                duration=duration,
                workers=int(_number(values, "workers", path, line, positive=True, whole=True)),
                gpus_per_worker=int(_number(values, "gpus_per_worker", path, line, whole=True)),
                gpu_type=values["gpu_type"].strip() or None,
                cpus_per_worker=int(_number(values, "cpus_per_worker", path, line, positive=True, whole=True)),
                memory_mib_per_worker=int(_number(values, "memory_mib_per_worker", path, line, positive=True,
                                                  whole=True)),
                tenant=values["tenant"].strip() or "default",
                datasets=tuple(d.strip() for d in values["datasets"].split(";") if d.strip()),
                time_limit=float(math.ceil(max(limit_s, duration) if not has_limit else limit_s)),
            )


def _number(values: dict[str, str], key: str, path: Path, line: int, *, positive: bool = False,
            whole: bool = False) -> float:
    text = values[key].strip()
    try:
        number = float(text)
    except ValueError:
        raise TraceError(f"{path}:{line}: {key}: not a number ({text!r})") from None
    if not math.isfinite(number) or number < 0 or (positive and number <= 0):
        raise TraceError(f"{path}:{line}: {key}: must be {'> 0' if positive else '>= 0'} (got {text})")
    if whole and number != int(number):
        raise TraceError(f"{path}:{line}: {key}: must be a whole number (got {text})")
    return number
