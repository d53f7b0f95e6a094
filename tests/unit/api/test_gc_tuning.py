"""The serving process's collector settings (broker/gc_tuning.py, docs/api.md "Garbage collection")."""

from __future__ import annotations

import gc

from dualtrack.broker import gc_tuning


def test_tune_for_serving_freezes_startup_objects_and_raises_thresholds() -> None:
    before = gc.get_threshold()
    marker = [object()]  # a container the collector tracks, alive across the call
    try:
        gc_tuning.tune_for_serving()
        assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, gc_tuning.MIDDLE_THRESHOLD,
                                      gc_tuning.FULL_THRESHOLD)
        assert gc.get_freeze_count() > 0
        # a frozen object is no longer in any generation the collector walks
        assert not any(o is marker for o in gc.get_objects())
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
    assert any(o is marker for o in gc.get_objects())
