"""The plugin framework: Filter -> Score -> NormalizeScore -> weight, recorded as an Explanation.

Modelled on the Kubernetes scheduler framework, with a backend (or one of its pools) as the unit:

- a **Filter** plugin returns ``FilterResult(status, reason)``: OK, UNSCHEDULABLE (not now; may later) or
  UNRESOLVABLE (never here). Filters run in profile order; an UNRESOLVABLE verdict ends the candidate's
  filtering (nothing later can rescue it), and so does any failure of a *gate* filter (one whose failure makes
  the later filters' inputs meaningless, e.g. a backend that is down has an empty snapshot);
- a **Score** plugin returns ``RawScore(value, detail)`` with 0 <= value <= 100, a pure function of the job
  and the candidate. The framework, not the plugin, checks the range (out of range is a plugin bug:
  ``PluginError``), normalizes each plugin over the feasible candidates (best -> 100, like the scheduler's
  DefaultNormalizeScore), multiplies by the configured weight and records raw and weighted scores;
- the winner is the feasible candidate with the highest total (weighted mean, 0..100); ties go to the tighter
  topology tier, then the backend and pool name (deterministic).

Plugins are plain classes built with the PolicyConfig (``cls(config)``); profiles name them explicitly
(policies/profiles.py). There is no registry filled at import time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from dualtrack.broker.domain import CandidateEvaluation, FilterStatus, FilterVerdict, Job, ScoreRecord
from dualtrack.policies.candidates import Candidate


class PluginError(RuntimeError):
    """A plugin broke its contract (a score out of 0..100, not finite). A bug, never a user error."""


@dataclass(frozen=True)
class FilterResult:
    status: FilterStatus
    reason: str = ""

    @staticmethod
    def ok(reason: str = "") -> FilterResult:
        return FilterResult(FilterStatus.OK, reason) if reason else _OK

    @staticmethod
    def unschedulable(reason: str) -> FilterResult:
        return FilterResult(FilterStatus.UNSCHEDULABLE, reason)

    @staticmethod
    def unresolvable(reason: str) -> FilterResult:
        return FilterResult(FilterStatus.UNRESOLVABLE, reason)


_OK = FilterResult(FilterStatus.OK)  # the common verdict, built once (it is immutable)


@dataclass(frozen=True)
class RawScore:
    value: float  # 0..100, higher is better
    detail: str = ""  # the arithmetic, for the Explanation


class FilterPlugin(Protocol):
    name: ClassVar[str]
    gate: ClassVar[bool]

    def filter(self, job: Job, candidate: Candidate) -> FilterResult: ...


class ScorePlugin(Protocol):
    name: ClassVar[str]

    def score(self, job: Job, candidate: Candidate) -> RawScore: ...


_OK_VERDICTS: dict[str, FilterVerdict] = {}  # plugin name -> its verdict for _OK
_SEVERITY = {FilterStatus.OK: 0, FilterStatus.UNSCHEDULABLE: 1, FilterStatus.UNRESOLVABLE: 2}


def run_filters(
    job: Job, candidate: Candidate, filters: Sequence[FilterPlugin]
) -> tuple[FilterStatus, list[FilterVerdict]]:
    """Every filter's verdict on one candidate (see the module docstring for where it stops) and the worst."""
    verdicts: list[FilterVerdict] = []
    ok = worst = FilterStatus.OK
    for plugin in filters:
        result = plugin.filter(job, candidate)
        if result is _OK:  # the common verdict: one immutable record per plugin, not one per candidate
            verdict = _OK_VERDICTS.get(plugin.name)
            if verdict is None:
                verdict = _OK_VERDICTS[plugin.name] = FilterVerdict(plugin.name, ok, "")
            verdicts.append(verdict)
            continue
        status = result.status
        verdicts.append(FilterVerdict(plugin.name, status, result.reason))
        if status is ok:
            continue
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
        if status is FilterStatus.UNRESOLVABLE or plugin.gate:
            break
    return worst, verdicts


def _checked(plugin: ScorePlugin, raw: RawScore) -> RawScore:
    value = raw.value
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise PluginError(f"score plugin {plugin.name} returned {value!r}, not a finite number")
    if not 0.0 <= value <= 100.0:
        raise PluginError(f"score plugin {plugin.name} returned {value}, outside 0..100")
    return raw


@dataclass
class Evaluated:
    """One candidate after filtering and scoring."""

    candidate: Candidate
    status: FilterStatus
    verdicts: list[FilterVerdict]
    scores: list[ScoreRecord]
    total: float = 0.0

    def record(self) -> CandidateEvaluation:
        return CandidateEvaluation(
            backend=self.candidate.backend,
            pool=self.candidate.pool_name,
            status=self.status,
            verdicts=tuple(self.verdicts),
            scores=tuple(self.scores),
            total=round(self.total, 3),
        )


def evaluate(
    job: Job,
    candidates: Sequence[Candidate],
    filters: Sequence[FilterPlugin],
    scores: Sequence[tuple[ScorePlugin, float]],
) -> tuple[list[Evaluated], Evaluated | None]:
    """Filter every candidate, score the feasible ones, and return all evaluations and the winner (or None).

    Caller: PlacementEngine, once per job. Raises PluginError when a score plugin breaks its range contract.
    """
    evaluated = []
    for candidate in candidates:
        status, verdicts = run_filters(job, candidate, filters)
        evaluated.append(Evaluated(candidate, status, verdicts, []))
    feasible = [e for e in evaluated if e.status is FilterStatus.OK]
    if not feasible:
        return evaluated, None
    weight_sum = sum(weight for _, weight in scores)
    for plugin, weight in scores:
        raws = [_checked(plugin, plugin.score(job, e.candidate)) for e in feasible]
        best = max(r.value for r in raws)
        for entry, raw in zip(feasible, raws, strict=True):
            normalized = raw.value * 100.0 / best if best > 0 else 0.0
            weighted = normalized * weight
            detail = f"{raw.detail}; normalized {normalized:.1f}" if raw.detail else f"normalized {normalized:.1f}"
            entry.scores.append(ScoreRecord(plugin.name, round(raw.value, 3), weight, round(weighted, 3), detail))
            entry.total += weighted / weight_sum if weight_sum else 0.0
    winner = min(
        feasible,
        key=lambda e: (-round(e.total, 9), e.candidate.tier_rank, e.candidate.backend, e.candidate.pool_name or ""),
    )
    return evaluated, winner
