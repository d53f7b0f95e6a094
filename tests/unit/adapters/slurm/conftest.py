"""Shared helpers of the Slurm adapter's unit tests: fixture files and job builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dualtrack.adapters.slurm.settings import SlurmSettings, parse_settings
from dualtrack.broker.domain import Job, parse_spec

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "slurm"
DIGEST = "sha256:" + "ab" * 32


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_job(
    command: list[str] | None = None,
    *,
    job_id: str = "jtest0000000a",
    attempt: int = 1,
    image_ref: str | None = f"ghcr.io/acme/train@{DIGEST}",
    tenant: str = "vision",
    **spec: Any,
) -> Job:
    doc = {
        "apiVersion": "dualtrack/v1",
        "kind": "TrainingJob",
        "metadata": {"name": "unit", "tenant": tenant},
        "spec": {"image": "ghcr.io/acme/train:1", "command": command or ["python", "train.py"], **spec},
    }
    return Job(id=job_id, spec=parse_spec(doc), attempt=attempt, image_ref=image_ref)


def settings(**overrides: Any) -> SlurmSettings:
    raw: dict[str, Any] = {"outputDir": "/var/tmp/out", "container": {"runtime": "none"}, **overrides}
    return parse_settings("slurm-unit", raw)


@pytest.fixture
def none_settings() -> SlurmSettings:
    return settings()
