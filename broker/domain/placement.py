"""The outcome of a placement decision and the explanation recorded with it (design section 4)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class FilterStatus(StrEnum):
    OK = "OK"
    UNSCHEDULABLE = "UNSCHEDULABLE"  # does not fit now; may later
    UNRESOLVABLE = "UNRESOLVABLE"  # can never fit on this backend


@dataclass(frozen=True)
class Placement:
    """Where a job goes: a backend, optionally one of its pools (partition / queue), and the topology
    tier the gang fits in now (``node``, ``switch``, ``cluster``) with an optional node hint."""

    backend: str
    pool: str | None = None
    tier: str | None = None
    nodes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "pool": self.pool, "tier": self.tier, "nodes": list(self.nodes)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Placement:
        return Placement(data["backend"], data.get("pool"), data.get("tier"), tuple(data.get("nodes") or ()))


@dataclass(frozen=True)
class FilterVerdict:
    plugin: str
    status: FilterStatus
    reason: str = ""


@dataclass(frozen=True)
class ScoreRecord:
    """One score plugin's contribution: raw 0..100, the weight from config and the weighted share."""

    plugin: str
    raw: float
    weight: float
    weighted: float
    detail: str = ""


@dataclass(frozen=True)
class CandidateEvaluation:
    """Everything the framework found about one backend (or one pool of it)."""

    backend: str
    pool: str | None
    status: FilterStatus
    verdicts: tuple[FilterVerdict, ...] = ()
    scores: tuple[ScoreRecord, ...] = ()
    total: float = 0.0

    @property
    def reasons(self) -> list[str]:
        return [f"{v.plugin}: {v.reason}" for v in self.verdicts if v.status is not FilterStatus.OK]


@dataclass(frozen=True)
class Explanation:
    """Why a job went where it went (or why it could not go anywhere)."""

    decided_at: float
    winner: str | None
    winner_pool: str | None
    summary: str
    candidates: tuple[CandidateEvaluation, ...] = field(default_factory=tuple)

    @property
    def unresolvable_everywhere(self) -> bool:
        return bool(self.candidates) and all(c.status is FilterStatus.UNRESOLVABLE for c in self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Explanation:
        candidates = tuple(
            CandidateEvaluation(
                backend=c["backend"],
                pool=c.get("pool"),
                status=FilterStatus(c["status"]),
                verdicts=tuple(
                    FilterVerdict(v["plugin"], FilterStatus(v["status"]), v.get("reason", ""))
                    for v in c.get("verdicts", ())
                ),
                scores=tuple(ScoreRecord(**s) for s in c.get("scores", ())),
                total=c.get("total", 0.0),
            )
            for c in data.get("candidates", ())
        )
        return Explanation(
            decided_at=data["decided_at"],
            winner=data.get("winner"),
            winner_pool=data.get("winner_pool"),
            summary=data.get("summary", ""),
            candidates=candidates,
        )


@dataclass(frozen=True)
class EncodedExplanation:
    """An explanation as the store keeps it (the JSON text of ``Explanation.to_dict``), not decoded yet.

    Decoding one costs tens of microseconds (a dozen nested records per backend), and only ``get``/explain
    read it: the store hands this to ``Job`` instead, which decodes it at the first read of
    ``Job.explanation`` (docs/lifecycle.md, "Reading jobs at scale")."""

    text: str

    def decode(self) -> Explanation | None:
        """The explanation; None for the JSON ``null`` a column without one may hold."""
        data = json.loads(self.text)
        return Explanation.from_dict(data) if data else None
