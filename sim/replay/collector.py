"""The garbage collector's thresholds while a replay runs.

A replay is a batch computation: millions of short-lived objects (cycles, decisions, snapshots) over a heap that
only grows (every job with its explanation, the models' records). With CPython's default thresholds (700, 10,
10) the cyclic collector scans young objects every 700 allocations and the growing old generations again and
again: about 15 % of a 20,000-job ``live`` replay (docs/simulation.md, "Speed"). ``replay_collector()`` raises
the thresholds for the replay's duration and restores them after. The collector still runs, so the cyclic
garbage a cycle leaves (indexes, sessions) is still freed and memory stays bounded; no decision depends on it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

REPLAY_THRESHOLDS = (20_000, 50, 50)


@contextmanager
def replay_collector() -> Iterator[None]:
    """Use ``REPLAY_THRESHOLDS`` inside the block, the caller's thresholds again after it."""
    before = gc.get_threshold()
    gc.set_threshold(*REPLAY_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
