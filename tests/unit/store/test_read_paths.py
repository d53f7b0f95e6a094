"""What the SQLite store decodes on its read paths: explanations only when read, and the reconciler's working
set (``active``, ``get_many``) only for jobs that are new or changed since the previous ``active``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dualtrack.broker.domain import EncodedExplanation, Explanation, JobState, Placement
from dualtrack.broker.store import Changes, NewJob, SqlJobStore
from dualtrack.broker.store import sql as sql_module
from tests.contract.store_contract import spec

ACTIVE = [JobState.ACCEPTED, JobState.PLACED, JobState.RUNNING]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlJobStore]:
    made = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    yield made
    made.close()


@pytest.fixture
def decoded_rows(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the rows the store turns into jobs, in order."""
    seen: list[str] = []
    original = sql_module.job_from_row

    def spy(row: Any, specs: Any) -> Any:
        seen.append(row["id"])
        return original(row, specs)

    monkeypatch.setattr(sql_module, "job_from_row", spy)
    return seen


@pytest.fixture
def decoded_explanations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = EncodedExplanation.decode

    def spy(self: EncodedExplanation) -> Explanation | None:
        seen.append(self.text)
        return original(self)

    monkeypatch.setattr(EncodedExplanation, "decode", spy)
    return seen


def placed_jobs(store: SqlJobStore, count: int) -> list[str]:
    ids = []
    for n in range(count):
        job = store.create(NewJob(spec(), "t")).job
        explanation = Explanation(float(n), "b1", None, f"b1 for job {n}")
        store.transition(job, JobState.PLACED, changes=Changes(placement=Placement("b1"), explanation=explanation))
        ids.append(job.id)
    return ids


def test_reads_do_not_decode_explanations_until_one_is_read(
        store: SqlJobStore, decoded_explanations: list[str]) -> None:
    ids = placed_jobs(store, 3)
    jobs = [*store.active(ACTIVE), *store.get_many(ids).values(), *store.list_jobs().jobs, store.get(ids[0])]
    assert decoded_explanations == []
    assert store.get(ids[1]).explanation == Explanation(1.0, "b1", None, "b1 for job 1")
    assert len(decoded_explanations) == 1 and json.loads(decoded_explanations[0])["summary"] == "b1 for job 1"
    assert all(not j.explanation_decoded for j in jobs)


def test_active_decodes_only_new_and_changed_jobs(store: SqlJobStore, decoded_rows: list[str]) -> None:
    ids = placed_jobs(store, 5)
    assert [j.id for j in store.active(ACTIVE)] == ids
    assert decoded_rows == ids
    decoded_rows.clear()
    again = store.active(ACTIVE)
    assert decoded_rows == [] and [j.id for j in again] == ids
    store.update(again[2], "note", Changes(reason="changed"))
    newer = store.create(NewJob(spec(), "t")).job
    decoded_rows.clear()
    third = store.active(ACTIVE)
    assert decoded_rows == [ids[2], newer.id]
    assert third[2].reason == "changed" and [j.id for j in third] == [*ids, newer.id]


def test_get_many_reuses_what_active_decoded(store: SqlJobStore, decoded_rows: list[str]) -> None:
    ids = placed_jobs(store, 4)
    store.active(ACTIVE)
    store.transition(store.get(ids[0]), JobState.CANCELLED)
    decoded_rows.clear()
    many = store.get_many([*ids, "jnope"])
    assert decoded_rows == [ids[0]]  # only the job that changed
    assert many[ids[0]].state is JobState.CANCELLED and set(many) == set(ids)


def test_a_change_made_behind_the_store_with_a_new_version_is_seen(store: SqlJobStore) -> None:
    (job_id,) = placed_jobs(store, 1)
    store.active(ACTIVE)
    with store.engine.begin() as conn:  # another replica's write: same columns, version + 1
        conn.execute(text("UPDATE jobs SET reason = 'elsewhere', version = version + 1 WHERE id = :id"),
                     {"id": job_id})
    (job,) = store.active(ACTIVE)
    assert job.reason == "elsewhere"


def test_the_remembered_jobs_are_only_the_active_ones(store: SqlJobStore) -> None:
    ids = placed_jobs(store, 3)
    store.active(ACTIVE)
    for job in store.get_many(ids[:2]).values():
        store.transition(job, JobState.CANCELLED)
    store.active(ACTIVE)
    assert set(store._active_jobs) == {ids[2]}


@pytest.mark.parametrize("column", ["state", "backend", "tenant"])
def test_a_filtered_page_is_read_in_index_order(store: SqlJobStore, column: str) -> None:
    """SQLite walks the (filter, id) index backwards and stops after the page: no sort of every match."""
    with store.engine.connect() as conn:
        plan = " | ".join(str(r[-1]) for r in conn.execute(text(
            f"EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE {column} = 'x' ORDER BY id DESC LIMIT 101")))
    assert f"({column}=?)" in plan and "TEMP B-TREE" not in plan, plan


def test_the_working_set_keys_come_from_the_index_alone(store: SqlJobStore) -> None:
    with store.engine.connect() as conn:
        plan = " | ".join(str(r[-1]) for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT id, version, state FROM jobs WHERE state IN ('RUNNING', 'QUEUED')")))
    assert "COVERING INDEX" in plan, plan
