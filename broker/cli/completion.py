"""Shell completion values fetched from the broker (``dualtrack --install-completion`` for bash/zsh/fish).

Completion must never hang a shell or print an error: each helper asks the broker (address from
$DUALTRACK_ADDRESS, token from $DUALTRACK_TOKEN, TLS from $DUALTRACK_TLS_*) with a short deadline and returns
nothing when it cannot answer.
"""

from __future__ import annotations

from dualtrack.client import Client, DualtrackError

DEADLINE_SECONDS = 1.0
MAX_JOBS = 200


def job_ids(incomplete: str) -> list[str]:
    """The newest job ids starting with ``incomplete``."""
    try:
        with Client(timeout=DEADLINE_SECONDS) as client:
            return [j.id for j in client.list(page_size=MAX_JOBS, limit=MAX_JOBS) if j.id.startswith(incomplete)]
    except (DualtrackError, ValueError):
        return []


def backend_names(incomplete: str) -> list[str]:
    """Configured backend names starting with ``incomplete``."""
    try:
        with Client(timeout=DEADLINE_SECONDS) as client:
            return [b.name for b in client.backends() if b.name.startswith(incomplete)]
    except (DualtrackError, ValueError):
        return []


def tracks(incomplete: str) -> list[str]:
    return [t for t in ("auto", "kubernetes", "slurm") if t.startswith(incomplete)]


def states(incomplete: str) -> list[str]:
    names = ["ACCEPTED", "PLACED", "SUBMITTED", "QUEUED", "RUNNING", "REROUTING", "SUCCEEDED", "FAILED", "CANCELLED"]
    return [n for n in names if n.startswith(incomplete.upper())]
