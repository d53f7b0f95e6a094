"""Every argv the adapters render for a YOLO job passes ultralytics' own configuration check (docs/yolo.md).

Needs the ``yolo`` extra (ultralytics installed; scripts/setup.sh installs it); skipped without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dualtrack.broker.domain import Job, SpecError, parse_spec, parse_spec_yaml
from dualtrack.broker.domain.spec import YOLO_EXTRA_ARGS
from tests.unit.yolo.two_tracks import EXAMPLES, on_kubernetes, on_slurm, pinned

cfg: Any = pytest.importorskip("ultralytics.cfg", reason="ultralytics is not installed (pip install -e '.[yolo]')")

YOLO_EXAMPLES = [p for p in EXAMPLES if parse_spec_yaml(p.read_text()).spec.yolo is not None]


def ultralytics_check(argv: list[str]) -> None:
    """What ``yolo`` itself does with the argv: task and mode known, key=value pairs parsed by its own parser,
    merged over its defaults with its alignment and type checks. Raises as ultralytics would."""
    assert argv[0] == "yolo", argv
    task, mode, *pairs = argv[1:]
    assert task in cfg.TASKS and mode in cfg.MODES, argv
    overrides = dict(cfg.parse_key_value_pair(pair) for pair in pairs)
    cfg.get_cfg(cfg.DEFAULT_CFG_DICT, overrides)


def variants(path: Path) -> list[Job]:
    """The example as written, on CPU, with 1 and 2 GPUs, with the user's own project/name, and resuming."""
    doc = parse_spec_yaml(path.read_text()).model_dump(by_alias=True, mode="json")
    out = []
    for gpus in (None, 0, 1, 2):
        for own_run in (False, True):
            for resume in (None, "/checkpoints/t/j0cfg/weights/last.pt"):
                d: dict[str, Any] = {**doc, "spec": {**doc["spec"]}}
                if gpus is not None:
                    d["spec"]["resources"] = {**d["spec"]["resources"], "gpusPerWorker": gpus}
                if own_run:
                    d["spec"]["yolo"] = {**d["spec"]["yolo"], "project": "/checkpoints/mine", "name": "run-1"}
                out.append(pinned(Job(id="j0cfg", spec=parse_spec(d), resume_from=resume)))
    return out


@pytest.mark.parametrize("path", YOLO_EXAMPLES, ids=lambda p: p.name)
def test_every_rendered_argv_passes_ultralytics_own_check(path: Path) -> None:
    for job in variants(path):
        for rendered in (on_slurm(job), on_kubernetes(job)):
            ultralytics_check(rendered.argv)
        if job.spec.spec.resources.gpus_per_worker == 0:
            assert "device=cpu" in on_slurm(job).argv


def test_the_check_refuses_what_ultralytics_refuses() -> None:
    with pytest.raises(SyntaxError):
        ultralytics_check(["yolo", "detect", "train", "model=yolov8n.yaml", "epochz=3"])
    with pytest.raises((TypeError, ValueError)):
        ultralytics_check(["yolo", "detect", "train", "model=yolov8n.yaml", "epochs=abc"])


def test_every_pass_through_argument_is_one_ultralytics_knows() -> None:
    assert sorted(YOLO_EXTRA_ARGS - set(cfg.DEFAULT_CFG_DICT)) == []


def test_an_unknown_argument_is_refused_at_validation_with_its_path() -> None:
    doc = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "bad"},
           "spec": {"image": "ultralytics/ultralytics:8.3.40",
                    "yolo": {"model": "yolov8n.yaml", "data": "coco8.yaml", "args": {"epochz": 3}}}}
    with pytest.raises(SpecError) as err:
        parse_spec(doc)
    assert str(err.value).startswith("spec.yolo.args: 'epochz' is not an ultralytics train argument")
