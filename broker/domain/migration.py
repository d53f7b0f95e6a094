"""An operator's request to move a running job to another backend (``dualtrack migrate``), stored with the
job until the reconciler's migrate step carries it out (docs/lifecycle.md, "Migration").

``to_backend`` None lets placement choose among the other backends; ``now`` False waits for the job's next
checkpoint (a YOLO job writes one per epoch), True stops the current attempt at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MigrationRequest:
    to_backend: str | None
    now: bool
    requested_at: float
    from_backend: str = ""
    attempt: int = 1  # the attempt the request was made for: a later attempt drops it
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"toBackend": self.to_backend, "now": self.now, "requestedAt": self.requested_at,
                "fromBackend": self.from_backend, "attempt": self.attempt, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MigrationRequest:
        return cls(to_backend=data.get("toBackend"), now=bool(data.get("now")),
                   requested_at=float(data.get("requestedAt") or 0.0), from_backend=str(data.get("fromBackend") or ""),
                   attempt=int(data.get("attempt") or 1), reason=str(data.get("reason") or ""))
