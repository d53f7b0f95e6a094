"""A new job's JSON columns are written as constants of the INSERT (not encoded per row) and hold exactly what
the JSON bind processor wrote for None and [] before: JSON text 'null' and '[]', never SQL NULL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dualtrack.broker.store import NewJob, SqlJobStore
from tests.contract.store_contract import spec


def test_new_jobs_hold_json_null_and_an_empty_list(tmp_path: Path) -> None:
    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    try:
        ids = [store.create(NewJob(spec(), "single")).job.id]
        ids += [o.job.id for o in store.create_many([NewJob(spec(), "a"), NewJob(spec(epochs=3), "b")])
                if not isinstance(o, Exception)]
        jobs = [store.get(i) for i in ids]
    finally:
        store.close()
    assert len(jobs) == 3
    for job in jobs:
        assert (job.placement, job.explanation, job.excluded_backends, job.migration) == (None, None, (), None)
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        rows = db.execute("SELECT placement, explanation, excluded_backends, migration, typeof(placement) "
                          "FROM jobs").fetchall()
    assert rows == [("null", "null", "[]", "null", "text")] * 3
