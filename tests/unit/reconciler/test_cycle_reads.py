"""A reconciler cycle over running jobs that did not change decodes no job and no placement explanation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dualtrack.broker.config import parse_config
from dualtrack.broker.context import build_context
from dualtrack.broker.domain import EncodedExplanation, Explanation, JobState
from dualtrack.broker.store import sql as sql_module
from tests.unit.reconciler.conftest import Harness, make_config


@pytest.fixture
def long_runs(tmp_path: Path) -> Iterator[Harness]:
    config = make_config(tmp_path)
    for backend in config["backends"]:
        backend["settings"]["runSeconds"] = 3600
    ctx = build_context(parse_config(config))
    yield Harness(ctx)
    ctx.close()


def test_a_steady_cycle_decodes_nothing(long_runs: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [long_runs.submit(**{"yolo-coco8-1gpu": f"steady-{n}"}).id for n in range(4)]
    for job_id in ids:
        long_runs.until(job_id, lambda j: j.state is JobState.RUNNING)
    long_runs.cycle()  # reads the jobs as they were left by the last transitions
    rows: list[str] = []
    explanations: list[str] = []
    row_decoder, explanation_decoder = sql_module.job_from_row, EncodedExplanation.decode

    def count_rows(row: Any, specs: Any) -> Any:
        rows.append(row["id"])
        return row_decoder(row, specs)

    def count_explanations(self: EncodedExplanation) -> Explanation | None:
        explanations.append(self.text)
        return explanation_decoder(self)

    monkeypatch.setattr(sql_module, "job_from_row", count_rows)
    monkeypatch.setattr(EncodedExplanation, "decode", count_explanations)
    long_runs.cycle()  # zombies run every cycle here (zombie_interval=0): get_many of every running job too
    long_runs.cycle()
    assert rows == [] and explanations == []
    job = long_runs.ctx.store.get(ids[0])
    assert job.explanation is not None and job.explanation.winner == job.backend  # read: decoded now
    assert len(explanations) == 1
