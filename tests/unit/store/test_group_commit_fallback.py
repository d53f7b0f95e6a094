"""The group-commit writer's fallback: when a batch's one transaction fails, every create of it (single ones and
items of a create_many group) is written in a transaction of its own and gets its own outcome."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dualtrack.broker.store import Created, IdempotencyConflict, NewJob, SqlJobStore
from tests.contract.store_contract import spec


class _Flaky:
    """Wraps ``_insert_all``: a batch of several creates fails, as a unique-key race would; one create whose spec
    names ``broken`` fails on its own too."""

    def __init__(self, insert_all: Any):
        self.insert_all = insert_all
        self.batches: list[int] = []

    def __call__(self, conn: Any, requests: list[Any]) -> Any:
        self.batches.append(len(requests))
        if len(requests) > 1:
            raise RuntimeError("the batch failed")
        if requests[0].new.spec.metadata.tenant == "broken":
            raise ValueError("this row is bad")
        return self.insert_all(conn, requests)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlJobStore]:
    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    yield store
    store.close()


def test_a_failed_group_is_written_job_by_job_with_an_outcome_each(store: SqlJobStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = store.create(NewJob(spec(), "", "key"))
    flaky = _Flaky(store._insert_all)
    monkeypatch.setattr(store, "_insert_all", flaky)
    outcomes = store.create_many([
        NewJob(spec(), "a"),
        NewJob(spec(epochs=9), "b", "key"),  # the key names ``first``, with another spec
        NewJob(spec(tenant="broken"), "c"),
        NewJob(spec(), "d", "key"),  # the same spec as ``first``: its duplicate
    ])
    assert flaky.batches == [4, 1, 1, 1, 1]
    assert isinstance(outcomes[0], Created) and not outcomes[0].duplicate
    assert isinstance(outcomes[1], IdempotencyConflict)
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "this row is bad"
    assert isinstance(outcomes[3], Created) and outcomes[3].duplicate and outcomes[3].job.id == first.job.id
    assert store.get(outcomes[0].job.id).id == outcomes[0].job.id


def test_a_single_create_in_a_failed_batch_still_resolves(store: SqlJobStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_insert_all", _Flaky(store._insert_all))
    with pytest.raises(ValueError, match="this row is bad"):
        store.create(NewJob(spec(tenant="broken"), ""))
    created = store.create(NewJob(spec(), ""))
    assert store.get(created.job.id).state.value == "ACCEPTED"
