"""Rows <-> domain values for the SQL store. Parsed specs are cached by job id (a spec never changes); a
placement explanation stays encoded on the job until someone reads it (``EncodedExplanation``)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from dualtrack.broker.domain import (
    BackendRef,
    EncodedExplanation,
    EventType,
    Explanation,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    MigrationRequest,
    Placement,
    parse_spec,
)


def canonical_json(spec: JobSpec) -> str:
    """The spec as compact JSON in field order (mappings in it are kept sorted by the spec's validators):
    what the store keeps, and what spec_hash hashes."""
    return spec.model_dump_json(by_alias=True)


def spec_hash(canonical: str) -> str:
    """A stable hash of the canonical spec text (idempotency keys compare specs by it)."""
    return hashlib.sha256(canonical.encode()).hexdigest()


class SpecCache:
    """A small LRU of parsed specs by job id; parsing a spec costs ~50 us, a lookup ~0.1 us."""

    def __init__(self, size: int = 20_000):
        self._size = size
        self._items: OrderedDict[str, JobSpec] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str, raw: str | Mapping[str, Any]) -> JobSpec:
        with self._lock:
            spec = self._items.get(job_id)
            if spec is not None:
                self._items.move_to_end(job_id)
                return spec
        spec = parse_spec(json.loads(raw) if isinstance(raw, str) else dict(raw))
        self.put(job_id, spec)
        return spec

    def put(self, job_id: str, spec: JobSpec) -> None:
        with self._lock:
            self._items[job_id] = spec
            if len(self._items) > self._size:
                self._items.popitem(last=False)


def job_from_row(row: Mapping[Any, Any], specs: SpecCache) -> Job:
    spec = specs.get(row["id"], row["spec"])
    ref = None
    if row["backend"] and row["backend_native_id"]:
        ref = BackendRef(row["backend"], row["backend_object_name"] or "", row["backend_native_id"])
    placement = Placement.from_dict(row["placement"]) if row["placement"] else None
    explanation = explanation_from_column(row["explanation"])
    return Job(
        id=row["id"],
        spec=spec,
        state=JobState(row["state"]),
        attempt=row["attempt"],
        backend=row["backend"],
        backend_ref=ref,
        placement=placement,
        explanation=explanation,
        image_ref=row["image_ref"],
        reason=row["reason"] or "",
        exit_code=row["exit_code"],
        idempotency_key=row["idempotency_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state_since=row["state_since"],
        version=row["version"],
        excluded_backends=tuple(row["excluded_backends"] or ()),
        migration=MigrationRequest.from_dict(row["migration"]) if row.get("migration") else None,
    )


def explanation_from_column(raw: str | Mapping[str, Any] | None) -> Explanation | EncodedExplanation | None:
    """The explanation column as read with ``explanation_text`` (JSON text, or ``null`` where a job has none):
    encoded, so that it is decoded only when read. A driver that decodes JSON itself gives a mapping."""
    if raw is None or raw == "null":
        return None
    if isinstance(raw, str):
        return EncodedExplanation(raw)
    return Explanation.from_dict(dict(raw))


def event_from_row(row: Mapping[Any, Any]) -> JobEvent:
    return JobEvent(
        seq=row["seq"],
        job_id=row["job_id"],
        at=row["at"],
        type=EventType(row["type"]),
        state=JobState(row["state"]) if row["state"] else None,
        previous_state=JobState(row["previous_state"]) if row["previous_state"] else None,
        message=row["message"] or "",
        attempt=row["attempt"],
        backend=row["backend"],
    )
