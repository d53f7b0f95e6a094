"""Fixtures of the cross-track YOLO tests: one broker over the real Slurm cluster and a process simulator,
both tracks on the same image digest, dataset and checkpoint root (see dual.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cross_track.dual import DualTrack


@pytest.fixture
def make_dual(tmp_path: Path) -> Iterator[Callable[..., DualTrack]]:
    """make(reconciler=..., policies=...) -> a started DualTrack, stopped at the end (its own jobs cancelled)."""
    made: list[DualTrack] = []

    def make(**options: Any) -> DualTrack:
        dual = DualTrack.start(tmp_path, **options)
        made.append(dual)
        return dual

    yield make
    for dual in made:
        dual.stop()
