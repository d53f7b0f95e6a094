"""The replay's in-memory store applies a reconciler step's batched writes as the SQL store does (the
contract's write_many case; the replay does not implement create_many, so not the whole contract)."""

from __future__ import annotations

import pytest

from dualtrack.sim.replay.memstore import MemoryJobStore
from tests.contract.store_contract import StoreContract


class TestMemoryStoreWriteMany:
    @pytest.fixture
    def store(self) -> MemoryJobStore:
        return MemoryJobStore(keep_events=True)

    test_write_many_applies_each_write_or_says_why_not = (
        StoreContract.test_write_many_applies_each_write_or_says_why_not)
    test_active_sees_every_change_of_a_job_it_returned_before = (
        StoreContract.test_active_sees_every_change_of_a_job_it_returned_before)
