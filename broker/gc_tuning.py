"""Settings of CPython's cyclic garbage collector for a serving broker process (docs/api.md, "Garbage
collection").

With the default thresholds (700, 10, 10) the collector dominated bulk submission: every job leaves a few dozen
tracked objects that live for the ~100 ms of its call (pydantic models, dicts, futures) and so survive the
young collections, and the store keeps the parsed spec of its 20,000 newest jobs. The survivors trigger a full
collection every time they reach a quarter of the old generation, and each full collection walks the whole
heap: the ~190,000 objects of the imported modules, schemas and context, plus every cached spec. Measured with
``bench/submit_throughput.py --api bulk``, that was more than half of the broker's CPU.

The broker therefore freezes what startup built (it lives as long as the process and is never collected: the
collector no longer walks it) and collects less often. Nothing here changes what is freed by reference
counting, which is almost everything; cyclic garbage lives a little longer.
"""

from __future__ import annotations

import gc

# young collections every 50,000 net allocations (default 700): a 1,000-job call's short-lived objects mostly
# die before they are promoted (at 10,000 the young and middle collections still took ~25% of the CPU)
YOUNG_THRESHOLD = 50_000
# a middle collection every 10 young ones (the default)
MIDDLE_THRESHOLD = 10
# a full collection at most every 100 middle ones (default 10), i.e. every ~50 million net allocations
FULL_THRESHOLD = 100


def tune_for_serving() -> None:
    """Freeze every object alive now (call once startup is done) and set the thresholds above. Process-wide."""
    gc.collect()  # what startup left as cyclic garbage is freed, not frozen
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_THRESHOLD)
