"""``observed_in_order`` pairs jobs with their observations exactly as a lookup per job would."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dualtrack.broker.domain import BackendPhase, BackendRef, Observed
from dualtrack.broker.reconciler.observe import observed_in_order
from tests.unit.policies.builders import make_job


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_pairs_like_a_lookup_per_job(data: Any) -> None:
    count = data.draw(st.integers(0, 30))
    jobs = [make_job(f"j{i}") for i in range(count)]
    # names may repeat (then the whole reference decides); native ids may differ from the observed ones
    unique = data.draw(st.booleans())
    refs = [BackendRef("b", f"dt-{i if unique else data.draw(st.integers(0, 40))}", f"n{data.draw(st.integers(0, 2))}")
            for i in range(count)]
    observed: dict[BackendRef, Observed] = {}
    for _ in range(data.draw(st.integers(0, 12))):
        ref = data.draw(st.sampled_from(refs)) if refs and data.draw(st.booleans()) else BackendRef(
            "b", f"dt-{data.draw(st.integers(0, 40))}", f"n{data.draw(st.integers(0, 2))}")
        observed[ref] = Observed(ref, data.draw(st.sampled_from(list(BackendPhase))))
    expected = [(job, observed[ref]) for job, ref in zip(jobs, refs, strict=True) if ref in observed]
    assert observed_in_order(jobs, refs, observed) == expected
