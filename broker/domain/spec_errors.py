"""The error a job spec's validation raises: every problem with its field path (docs/spec.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldIssue:
    """One problem of a spec: where it is (dotted path) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(ValueError):
    """A job spec is malformed. ``issues`` lists every problem found, each with its field path."""

    def __init__(self, issues: list[FieldIssue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))
