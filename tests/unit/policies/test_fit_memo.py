"""``fit_gang_memo`` answers what ``fit_gang`` answers now, whatever was assumed or undone since it remembered."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dualtrack.broker.domain import NodeCapacity
from dualtrack.policies.capacity import GangRequest, SnapshotIndex, Tier, fit_gang
from dualtrack.policies.capacity.fit import fit_gang_memo
from tests.unit.policies.builders import snapshot
from tests.unit.policies.test_properties import LEAVES, nodes


@st.composite
def requests(draw: Any) -> GangRequest:
    return GangRequest(workers=draw(st.integers(1, 4)), gpus=draw(st.sampled_from([1, 2, 4, 8])),
                       gpu_type=draw(st.sampled_from([None, "a100", "h100"])), cpus=draw(st.sampled_from([0, 8])),
                       memory=0, wanted=draw(st.sampled_from(list(Tier))), hard=draw(st.booleans()))


@settings(max_examples=150, deadline=None)
@given(nodes_=nodes("n"), data=st.data())
def test_the_memo_answers_like_a_fresh_fit(nodes_: list[NodeCapacity], data: Any) -> None:
    index = SnapshotIndex(snapshot("b", "slurm", nodes_, switches=LEAVES))
    shapes = data.draw(st.lists(requests(), min_size=1, max_size=3))  # few shapes: the memo is asked again
    taken: list[tuple[int, int]] = []
    for _ in range(data.draw(st.integers(1, 20))):
        action = data.draw(st.sampled_from(["fit", "fit", "fit", "take", "give", "canonicalize"]))
        if action == "fit":
            scope = index.scope(data.draw(st.sampled_from([None, "p"])))
            request = data.draw(st.sampled_from(shapes))
            assert fit_gang_memo(index, scope, request) == fit_gang(index, scope, request)
        elif action == "take":
            i = data.draw(st.integers(0, len(nodes_) - 1))
            if index.free[i] > 0:
                g = data.draw(st.integers(1, index.free[i]))
                index.take(i, g, 0, 0)
                taken.append((i, g))
        elif action == "give" and taken:
            i, g = taken.pop()
            index.give(i, g, 0, 0)
        else:
            index.canonicalize()
