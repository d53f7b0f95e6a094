"""The same attempt rendered for Slurm and for Kubernetes gives each worker the same things (docs/yolo.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualtrack.broker.domain import Job, parse_spec_yaml
from tests.unit.yolo.two_tracks import DIGEST, EXAMPLES, on_kubernetes, on_slurm, pinned

FIELDS = ("workers", "gang", "gpus_per_worker", "time_limit_s", "image_digest", "argv", "datasets",
          "checkpoint_mount", "env")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("resume", [None, "/checkpoints/t/j0parity/weights/last.pt"], ids=["fresh", "resume"])
def test_every_example_renders_the_same_on_both_tracks(path: Path, resume: str | None) -> None:
    spec = parse_spec_yaml(path.read_text())
    job = pinned(Job(id="j0parity", spec=spec, attempt=2, resume_from=resume if spec.spec.yolo else None))
    slurm, kube = on_slurm(job), on_kubernetes(job)
    for field in FIELDS:
        assert getattr(slurm, field) == getattr(kube, field), field
    assert slurm.image_digest == DIGEST
    assert slurm.checkpoint_mount == (spec.spec.yolo is not None)
    assert {f"/datasets/{name}" for name in spec.spec.datasets} == set(slurm.datasets)


def test_the_comparison_can_fail() -> None:
    job = pinned(Job(id="j0parity", spec=parse_spec_yaml(EXAMPLES[0].read_text())))
    other = job.evolve(image_ref="busybox@sha256:" + "ef" * 32)
    assert on_slurm(job).image_digest != on_kubernetes(other).image_digest
