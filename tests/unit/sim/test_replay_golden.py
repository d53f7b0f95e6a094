"""``live`` decides exactly as it did before the speed work: same placements, same timings, same explanations.

The fixture ``tests/fixtures/sim/live-golden.json`` was written by ``tests/unit/sim/golden.py`` with the code
of commit a30a6be (before the incremental snapshot index and the per-state cycle sets); see its README.
"""

from __future__ import annotations

import json

import pytest

from tests.unit.sim.golden import CONFIGS, GOLDEN, live_record

EXPECTED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_live_replay_matches_the_recorded_decisions(config: str) -> None:
    got, want = live_record(config), EXPECTED[config]
    assert got["summary"] == want["summary"]
    assert got["records"] == want["records"]
    for index, (seen, recorded) in enumerate(zip(got["events"], want["events"], strict=False)):
        assert seen == recorded, f"event {index} differs"
    assert len(got["events"]) == len(want["events"])
