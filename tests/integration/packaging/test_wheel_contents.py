"""What the built wheel installs: one import package, ``dualtrack``, with its run-time files inside."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

RUNTIME_FILES = {
    "dualtrack/sim/kubeapi/volcano-crds/batch.volcano.sh_jobs.yaml",
    "dualtrack/sim/kubeapi/volcano-crds/scheduling.volcano.sh_podgroups.yaml",
    "dualtrack/sim/kubeapi/volcano-crds/scheduling.volcano.sh_queues.yaml",
    "dualtrack/sim/kubeapi/volcano-crds/LICENSE",
    "dualtrack/adapters/slurm/sif-run",
    "dualtrack/broker/metrics/chart-files/dualtrack.json",
    "dualtrack/broker/metrics/chart-files/dualtrack-rules.yaml",
    "dualtrack/v1/broker_pb2.py",
}


def top_level_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name.split("/", 1)[0] for name in archive.namelist()}


def test_the_wheel_installs_exactly_one_top_level_package(built_wheel: Path) -> None:
    version = built_wheel.name.split("-")[1]
    assert top_level_names(built_wheel) == {"dualtrack", f"dualtrack-{version}.dist-info"}


def test_the_wheel_carries_the_run_time_files_as_files(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert set(infos) >= RUNTIME_FILES, sorted(RUNTIME_FILES - set(infos))
    for name in RUNTIME_FILES:
        mode = infos[name].external_attr >> 16
        assert stat.S_ISREG(mode), f"{name} is not a regular file in the wheel (a link left unresolved?)"
        assert infos[name].file_size > 0, name
    assert (infos["dualtrack/adapters/slurm/sif-run"].external_attr >> 16) & 0o111, "sif-run must stay executable"


def test_top_level_names_sees_a_stray_package(tmp_path: Path) -> None:
    """The check above can fail: a wheel with a second top-level package is told apart."""
    wheel = tmp_path / "x-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("dualtrack/__init__.py", "")
        archive.writestr("proto/__init__.py", "")
    assert top_level_names(wheel) == {"dualtrack", "proto"}
