"""sbatch directives -> resources: the time, memory and GPU forms Slurm accepts."""

from __future__ import annotations

import pytest

from dualtrack.broker.domain import parse_spec
from dualtrack.broker.importers import import_sbatch
from dualtrack.broker.importers.sbatch import slurm_memory, slurm_time


@pytest.mark.parametrize(("text", "seconds"), [
    ("30", 1800), ("10:30", 630), ("24:00:00", 86400), ("2-00", 2 * 86400), ("1-02:30", 95400),
    ("1-00:00:10", 86410),
])
def test_slurm_time_forms(text: str, seconds: int) -> None:
    assert slurm_time(text) == seconds


@pytest.mark.parametrize(("text", "size"), [("64G", 64 * 1024**3), ("65536M", 64 * 1024**3), ("512", 512 * 1024**2),
                                            ("1T", 1024**4)])
def test_slurm_memory_forms(text: str, size: int) -> None:
    assert slurm_memory(text) == size


@pytest.mark.parametrize(("directives", "gpus", "gpu_type"), [
    ("--gres=gpu:a100:4", 4, "a100"),
    ("--gres=gpu:2", 2, None),
    ("--gpus-per-node=h100:8", 8, "h100"),
    ("--gpus=8 --nodes=2", 4, None),
    ("--gpus-per-task=1 --ntasks-per-node=4", 4, None),
])
def test_gpu_forms(directives: str, gpus: int, gpu_type: str | None) -> None:
    script = "#!/bin/bash\n" + "".join(f"#SBATCH {d}\n" for d in directives.split()) + "srun python train.py\n"
    imported = import_sbatch(script.replace("python train.py", "python -c pass"))
    resources = imported.spec["spec"]["resources"]
    assert resources["gpusPerWorker"] == gpus and resources.get("gpuType") == gpu_type


def test_multi_node_torchrun_script_keeps_its_command() -> None:
    script = """#!/bin/bash
#SBATCH -J weld_v8 -N 2 --ntasks-per-node=1 --gres=gpu:a100:4 -c 16 --mem=128G -t 12:00:00
#SBATCH --partition=gpu --qos=high
export NCCL_IB_DISABLE=1
export HEAD=$(hostname)
srun torchrun --nnodes=2 --nproc-per-node=4 --rdzv-backend=c10d --rdzv-endpoint=$HEAD:29500 \\
    yolo detect train model=yolov8m.pt data=weld.yaml epochs=120 batch=64 cos_lr=True
"""
    imported = import_sbatch(script)
    spec = parse_spec(imported.spec)
    res = spec.spec.resources
    assert (res.workers, res.gpus_per_worker, res.gpu_type, res.cpus_per_worker) == (2, 4, "a100", 16)
    assert spec.spec.env == {"NCCL_IB_DISABLE": "1"} and spec.spec.time_limit == 12 * 3600
    fields = imported.warned_fields
    assert {"#SBATCH --partition", "#SBATCH --qos", "spec.env.HEAD"} <= fields
    assert spec.metadata.name == "weld-v8"
    assert spec.spec.yolo is None and spec.spec.command is not None  # a YOLO job has one worker
    assert spec.spec.command[:3] == ["yolo", "detect", "train"] and "spec.yolo" in fields


def test_yolo_from_an_apptainer_line() -> None:
    script = ("#!/bin/bash\n#SBATCH --gres=gpu:1\n"
              "apptainer exec --nv --bind /data/coco:/datasets/coco:ro docker://ultralytics/ultralytics:8.3.40 "
              "yolo train model=yolov8n.pt data=coco8.yaml epochs=3 patience=5\n")
    spec = parse_spec(import_sbatch(script).spec)
    assert spec.spec.image == "ultralytics/ultralytics:8.3.40" and spec.spec.datasets == ["coco"]
    assert spec.spec.yolo is not None and spec.spec.yolo.args == {"patience": 5} and spec.spec.yolo.device is None
