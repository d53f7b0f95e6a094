"""Request building shared by ``Client`` and ``AsyncClient``: spec sources, list filters, job states.

A spec source (``SpecLike``) is one of:
- a ``pathlib.Path`` (or any ``os.PathLike``): a YAML file, read and sent as written;
- a ``str``: YAML text when it contains a newline, else the path of a YAML file;
- a mapping: the spec document as a dict (camelCase keys, as in the YAML), sent as YAML;
- a ``dualtrack.v1.broker_pb2.JobSpec``: the typed message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import yaml

from dualtrack.v1 import broker_pb2 as pb

SpecLike = Union[str, "os.PathLike[str]", Mapping[str, Any], pb.JobSpec]
StateLike = str | int
TERMINAL_STATES = frozenset({pb.SUCCEEDED, pb.FAILED, pb.CANCELLED})
MAX_BATCH = 1000  # SubmitJobs accepts at most this many specs per call
MAX_BATCH_BYTES = 3 * 1024 * 1024  # and the broker at most 4 MiB per request: stay well below


def spec_fields(spec: SpecLike) -> dict[str, Any]:
    """The ``source`` oneof of a SubmitJob/Explain/Render request for ``spec``: {"spec": ...} or {"spec_yaml": ...}.
    Raises FileNotFoundError / TypeError for a source that is none of the accepted kinds."""
    if isinstance(spec, pb.JobSpec):
        return {"spec": spec}
    if isinstance(spec, Mapping):
        return {"spec_yaml": yaml.safe_dump(dict(spec), sort_keys=False)}
    if isinstance(spec, str) and "\n" in spec:
        return {"spec_yaml": spec}
    if isinstance(spec, str | os.PathLike):
        return {"spec_yaml": Path(spec).read_text()}
    raise TypeError(f"a spec is a path, YAML text, a dict or a JobSpec message, not {type(spec).__name__}")


def submit_request(spec: SpecLike, idempotency_key: str = "", track: str = "") -> pb.SubmitJobRequest:
    return pb.SubmitJobRequest(idempotency_key=idempotency_key, track=track, **spec_fields(spec))


def submit_requests(specs: Iterable[SpecLike], idempotency_keys: Iterable[str] | None,
                    track: str) -> list[pb.SubmitJobRequest]:
    specs = list(specs)
    keys = list(idempotency_keys) if idempotency_keys is not None else [""] * len(specs)
    if len(keys) != len(specs):
        raise ValueError(f"submit_many: {len(specs)} specs but {len(keys)} idempotency keys")
    return [submit_request(s, k, track) for s, k in zip(specs, keys, strict=True)]


def batches(requests: list[pb.SubmitJobRequest], size: int) -> Iterator[list[pb.SubmitJobRequest]]:
    """SubmitJobs calls: at most ``size`` items and about MAX_BATCH_BYTES each (a lone larger spec goes alone)."""
    chunk: list[pb.SubmitJobRequest] = []
    used = 0
    for request in requests:
        weight = request.ByteSize() + 8
        if chunk and (len(chunk) >= size or used + weight > MAX_BATCH_BYTES):
            yield chunk
            chunk, used = [], 0
        chunk.append(request)
        used += weight
    if chunk:
        yield chunk


def state_value(state: StateLike) -> int:
    """A JobState number from a name (``"running"``, ``"RUNNING"``) or a number; ValueError names the choices."""
    if isinstance(state, int):
        return state
    name = state.upper()
    if name not in pb.JobState.keys() or name == "JOB_STATE_UNSPECIFIED":  # noqa: SIM118
        choices = ", ".join(n for n in pb.JobState.keys() if n != "JOB_STATE_UNSPECIFIED")  # noqa: SIM118
        raise ValueError(f"{state!r} is not a job state (one of {choices})")
    return int(pb.JobState.Value(name))


def state_name(state: int) -> str:
    return str(pb.JobState.Name(state))


def list_request(tenant: str, states: Iterable[StateLike], backend: str, page_size: int,
                 page_token: str) -> pb.ListJobsRequest:
    values: list[Any] = [state_value(s) for s in states]
    return pb.ListJobsRequest(tenant=tenant, states=values, backend=backend,
                              page_size=page_size, page_token=page_token)


@dataclass(frozen=True)
class SubmitResult:
    """One item of ``submit_many``: the stored job (``duplicate`` when its idempotency key matched), or the typed
    error that refused it (``error``: InvalidSpec, NoBackendCanRun, IdempotencyConflict...)."""

    job: pb.Job | None
    duplicate: bool = False
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
