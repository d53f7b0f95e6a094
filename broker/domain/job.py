"""A job as the broker tracks it, its lifecycle states and the one table of allowed transitions.

Design section 5: ``ACCEPTED -> PLACED -> SUBMITTED -> QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED``,
plus ``REROUTING`` (leaving one backend for another) and retry attempts (back to ``ACCEPTED`` with the attempt
number raised). The store applies transitions with compare-and-set against ``TRANSITIONS``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from dualtrack.broker.domain.backend import BackendRef
from dualtrack.broker.domain.migration import MigrationRequest
from dualtrack.broker.domain.placement import EncodedExplanation, Explanation, Placement
from dualtrack.broker.domain.spec import JobSpec


class JobState(StrEnum):
    ACCEPTED = "ACCEPTED"
    PLACED = "PLACED"
    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    REROUTING = "REROUTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def on_backend(self) -> bool:
        """True where a backend object may exist for the current attempt."""
        return self in {JobState.SUBMITTED, JobState.QUEUED, JobState.RUNNING, JobState.REROUTING}


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

_S = JobState
# from-state -> the states it may move to. ACCEPTED as a target from a backend state is a retry (attempt + 1).
TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    _S.ACCEPTED: frozenset({_S.PLACED, _S.FAILED, _S.CANCELLED}),
    _S.PLACED: frozenset({_S.SUBMITTED, _S.ACCEPTED, _S.FAILED, _S.CANCELLED}),
    _S.SUBMITTED: frozenset({_S.QUEUED, _S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.REROUTING,
                             _S.ACCEPTED}),
    _S.QUEUED: frozenset({_S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.REROUTING, _S.ACCEPTED}),
    _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELLED, _S.REROUTING, _S.ACCEPTED}),
    _S.REROUTING: frozenset({_S.PLACED, _S.ACCEPTED, _S.FAILED, _S.CANCELLED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def can_transition(source: JobState, target: JobState) -> bool:
    """True when the lifecycle table allows ``source -> target``."""
    return target in TRANSITIONS[source]


class InvalidTransition(ValueError):
    """A transition the lifecycle table does not allow."""

    def __init__(self, job_id: str, source: JobState, target: JobState):
        self.job_id, self.source, self.target = job_id, source, target
        super().__init__(f"job {job_id}: {source} -> {target} is not an allowed transition")


_ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # lowercase base32: DNS-safe and sortable
ID_ALPHABET = _ALPHABET  # public: ids made elsewhere (render previews) use the same digits
_DIGIT_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]  # the two digits of 0..1023


def new_job_id(now: float | None = None) -> str:
    """A 13-character id, lowercase and DNS-1123 safe, sortable by creation time (48-bit ms + 17 random bits)."""
    millis = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(3), "big") & ((1 << 17) - 1)
    value = (millis << 17) | rand
    # "j" and the lowest 12 base32 digits of the 65-bit value, two digits (10 bits) per lookup
    pairs = _DIGIT_PAIRS
    return ("j" + pairs[(value >> 50) & 1023] + pairs[(value >> 40) & 1023] + pairs[(value >> 30) & 1023]
            + pairs[(value >> 20) & 1023] + pairs[(value >> 10) & 1023] + pairs[value & 1023])


def backend_object_name(job_id: str, attempt: int) -> str:
    """The name every backend object of one attempt carries: ``dt-<id>-<attempt>``."""
    return f"dt-{job_id}-{attempt}"


def parse_backend_object_name(name: str) -> tuple[str, int] | None:
    """Inverse of backend_object_name; None for names the broker did not make."""
    if not name.startswith("dt-"):
        return None
    job_id, _, attempt = name[3:].rpartition("-")
    if not job_id or not attempt.isdigit():
        return None
    return job_id, int(attempt)


class _LazyExplanation:
    """``Job.explanation``: takes an ``Explanation``, None, or an ``EncodedExplanation`` (the store's JSON
    text), and decodes the latter at the first read, once (the decoded value replaces the text). Reading
    always gives ``Explanation | None``; the job stays immutable (assignment still raises)."""

    _slot = "_explanation"

    def __get__(self, job: object, owner: type | None = None) -> Explanation | None:
        if job is None:
            return None  # the dataclass field's default
        value = job.__dict__[self._slot]
        if isinstance(value, EncodedExplanation):
            value = value.decode()
            job.__dict__[self._slot] = value
        return value  # type: ignore[no-any-return]

    def __set__(self, job: object, value: Explanation | EncodedExplanation | None) -> None:
        job.__dict__[self._slot] = value  # only the dataclass __init__ gets here: Job is frozen

    @classmethod
    def stored(cls, job: object) -> Explanation | EncodedExplanation | None:
        """The value as held, without decoding it."""
        return job.__dict__[cls._slot]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Job:
    """The broker's record of one job. Immutable: the store returns a new value after every change."""

    id: str
    spec: JobSpec
    state: JobState = JobState.ACCEPTED
    attempt: int = 1
    backend: str | None = None
    backend_ref: BackendRef | None = None
    placement: Placement | None = None
    # why it went where it went; the store passes it encoded, decoded at the first read (_LazyExplanation)
    explanation: _LazyExplanation = _LazyExplanation()
    image_ref: str | None = None  # the digest-pinned image, once resolved
    reason: str = ""
    exit_code: int | None = None
    idempotency_key: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    state_since: float = field(default_factory=time.time)
    version: int = 1
    excluded_backends: tuple[str, ...] = ()  # left by reroutes; placement avoids them for later attempts
    migration: MigrationRequest | None = None  # an operator's pending ``dualtrack migrate``
    # Set only on the value handed to Backend.submit for one attempt (not stored): the in-container path of
    # the checkpoint a YOLO attempt resumes from (docs/yolo.md#resume).
    resume_from: str | None = None

    @property
    def tenant(self) -> str:
        return self.spec.metadata.tenant

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def object_name(self) -> str:
        return backend_object_name(self.id, self.attempt)

    @property
    def explanation_decoded(self) -> bool:
        """False while the explanation is still the store's encoded text (nothing has read it yet)."""
        return not isinstance(_LazyExplanation.stored(self), EncodedExplanation)

    def evolve(self, **changes: Any) -> Job:
        """A copy with ``changes`` (field names; TypeError for any other); an explanation not read yet is
        carried over still encoded. Equal to ``dataclasses.replace`` (Job has no ``__post_init__``), without its
        call of ``__init__`` with every field: the stores make a new value at every write."""
        unknown = changes.keys() - _JOB_FIELDS
        if unknown:
            raise TypeError(f"Job has no field(s) {', '.join(sorted(unknown))}")
        state = dict(self.__dict__)
        if "explanation" in changes:
            state[_LazyExplanation._slot] = changes.pop("explanation")
        state.update(changes)
        new = object.__new__(Job)
        new.__dict__.update(state)
        return new


_JOB_FIELDS = frozenset(f.name for f in fields(Job))


class EventType(StrEnum):
    STATE = "state"
    PLACEMENT = "placement"
    NOTE = "note"


@dataclass(frozen=True)
class JobEvent:
    """One row of the append-only audit log; ``seq`` orders all events of the store."""

    seq: int
    job_id: str
    at: float
    type: EventType
    state: JobState | None
    previous_state: JobState | None
    message: str
    attempt: int = 1
    backend: str | None = None
