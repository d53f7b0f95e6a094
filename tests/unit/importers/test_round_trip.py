"""import(render(spec)) == spec for every example on both tracks, up to the fields the import warns about;
the seed article's Volcano Job and sbatch command import into specs that validate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dualtrack.adapters.registry import BackendRegistry
from dualtrack.broker.config import parse_config
from dualtrack.broker.context import build_backends
from dualtrack.broker.domain import parse_spec, parse_spec_yaml
from dualtrack.broker.handlers.inspect import render_with
from dualtrack.broker.handlers.specs import SpecSource
from dualtrack.broker.importers import import_text

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
FIXTURES = REPO / "tests/fixtures/importers"


@pytest.fixture(scope="module")
def backends() -> BackendRegistry:
    entries: list[Any] = []
    for name in ("slurm-local.yaml", "kube-local.yaml"):
        entries += yaml.safe_load((REPO / "examples/config" / name).read_text())["backends"]
    registry = build_backends(parse_config({"backends": entries}, "test"))
    yield registry  # type: ignore[misc]
    registry.close()


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """The validated spec with defaults filled; gang spelled out (absent means all workers)."""
    spec = parse_spec(document)
    data = spec.to_dict()
    data["spec"]["gang"]["minAvailable"] = spec.spec.min_available
    return data


def drop(data: dict[str, Any], path: str) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.get(part) if isinstance(data, dict) else None  # type: ignore[assignment]
        if data is None:
            return
    if isinstance(data, dict):
        data.pop(parts[-1], None)


@pytest.mark.parametrize("track", ["slurm", "kubernetes"])
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_import_of_the_rendered_artefact_gives_the_spec_back(backends: BackendRegistry, example: Path,
                                                            track: str) -> None:
    original = parse_spec_yaml(example.read_text()).to_dict()
    artefact = render_with(backends, SpecSource(yaml_text=example.read_text()), track=track).artefact
    imported = import_text(artefact)
    assert imported.source_kind == ("sbatch" if track == "slurm" else "volcano")
    expected, got = canonical(original), canonical(imported.spec)
    for field in imported.warned_fields:
        drop(expected, field)
        drop(got, field)
    differing = {f"{section}.{key}": (got[section].get(key), expected[section].get(key))
                 for section in ("metadata", "spec") for key in {*got[section], *expected[section]}
                 if got[section].get(key) != expected[section].get(key)}
    assert got == expected, f"{differing}\nwarnings:\n" + "\n".join(str(w) for w in imported.warnings)


def test_the_seed_articles_volcano_job_imports_into_a_valid_spec() -> None:
    imported = import_text((FIXTURES / "seed-vcjob.yaml").read_text())
    spec = parse_spec(imported.spec)
    assert spec.metadata.name == "yolov5-training-job"
    assert spec.spec.resources.workers == 4 and spec.spec.resources.gpus_per_worker == 1
    assert spec.spec.min_available == 4 and spec.spec.image == "ultralytics/yolov5:latest"
    # four workers: not a yolo block (a YOLO job has one worker), the command as the article runs it
    assert spec.spec.command == ["python", "train.py", "--img", "640", "--batch", "64", "--epochs", "100",
                                 "--data", "coco.yaml"]
    assert "spec.yolo" in imported.warned_fields


def test_a_one_worker_yolov5_job_becomes_a_yolo_block() -> None:
    text = (FIXTURES / "seed-vcjob.yaml").read_text().replace("replicas: 4", "replicas: 1").replace(
        "minAvailable: 4", "minAvailable: 1")
    imported = import_text(text)
    yolo = parse_spec(imported.spec).spec.yolo
    assert yolo is not None and (yolo.imgsz, yolo.batch, yolo.epochs, yolo.data) == (640, 64, 100, "coco.yaml")
    assert "spec.yolo.model" in imported.warned_fields  # the default weights were assumed, and said so


def test_the_seed_articles_sbatch_command_imports_into_a_valid_spec() -> None:
    imported = import_text((FIXTURES / "seed-sbatch-command.txt").read_text())
    spec = parse_spec(imported.spec)
    assert spec.metadata.name == "yolov8-train" and spec.spec.time_limit == 24 * 3600
    assert (spec.spec.resources.workers, spec.spec.resources.gpus_per_worker) == (1, 4)
    assert spec.spec.command == ["bash", "train_yolo_slurm.sh"]
    warned = imported.warned_fields
    assert {"metadata.name", "spec.image", "spec.command", "#SBATCH --partition"} <= warned


def test_the_named_script_is_read_when_it_is_beside_the_command(tmp_path: Path) -> None:
    (tmp_path / "train_yolo_slurm.sh").write_text(
        "#!/bin/bash\n#SBATCH --cpus-per-task=2\n#SBATCH --mem=64G\nmodule load cuda\n"
        "export NCCL_DEBUG=INFO\n"
        "srun --kill-on-bad-exit=1 apptainer exec --nv docker://ultralytics/ultralytics:8.3.40 \\\n"
        "  yolo detect train model=yolov8s.pt data=coco.yaml epochs=50 imgsz=640 batch=32 device=0,1,2,3\n")
    imported = import_text((FIXTURES / "seed-sbatch-command.txt").read_text(), base_dir=tmp_path)
    spec = parse_spec(imported.spec)
    assert spec.spec.image == "ultralytics/ultralytics:8.3.40" and spec.spec.env == {"NCCL_DEBUG": "INFO"}
    assert spec.spec.yolo is not None and spec.spec.yolo.epochs == 50 and spec.spec.yolo.device is None
    assert spec.spec.resources.cpus_per_worker == 8 and spec.spec.resources.memory_per_worker == 64 * 1024**3
    assert any("module load cuda" in w.message for w in imported.warnings)  # never silently dropped
