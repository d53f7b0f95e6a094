"""Builder choice and the apptainer/singularity path, with a stand-in ``apptainer`` that records its call."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from dualtrack.broker.images.convert import ApptainerConverter, SkopeoUmociConverter, converter_for, looks_like_sif
from dualtrack.broker.images.errors import ConversionFailed, ToolMissing

FAKE_APPTAINER = """#!/bin/sh
echo "$@" > "$RECORD"
echo "tmp=$APPTAINER_TMPDIR" >> "$RECORD"
[ -n "$FAIL" ] && { echo "FATAL: While making image from oci registry: bad layer" >&2; exit 255; }
printf '%32s' '' | tr ' ' '\\0' > "$3"
printf 'SIF_MAGIC' >> "$3"
"""


@pytest.fixture
def fake_apptainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "apptainer"
    script.write_text(FAKE_APPTAINER)
    script.chmod(0o755)
    for tool in ("sh", "tr", "printf", "echo"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("RECORD", str(tmp_path / "record"))
    return tmp_path / "record"


def test_auto_prefers_apptainer_when_present(fake_apptainer: Path) -> None:
    chosen = converter_for("auto")
    assert isinstance(chosen, ApptainerConverter) and chosen.name == "apptainer"
    assert isinstance(converter_for("skopeo-umoci"), SkopeoUmociConverter)
    with pytest.raises(ValueError, match=r"images\.builder"):
        converter_for("docker")


def test_apptainer_build_from_a_registry_digest(h: SimpleNamespace, fake_apptainer: Path, tmp_path: Path) -> None:
    resolved = h.resolved(1)
    resolved = type(resolved)(resolved.original, resolved.pinned_ref, resolved.digest,
                              f"docker://example/app@{resolved.digest}", None)  # fmt: skip
    dest = tmp_path / "out.sif"
    ApptainerConverter("apptainer").convert(resolved, dest, tmp_path / "work", None)
    record = fake_apptainer.read_text().splitlines()
    assert record[0] == f"build --force {dest} docker://example/app@{resolved.digest}"
    assert record[1] == f"tmp={tmp_path / 'work'}"
    assert looks_like_sif(dest)


def test_apptainer_failure_names_the_image(
    h: SimpleNamespace, fake_apptainer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL", "1")
    resolved = h.resolved(1)
    resolved = type(resolved)(resolved.original, resolved.pinned_ref, resolved.digest, "docker://example/app", None)
    with pytest.raises(ConversionFailed, match=r"example/app:1.*apptainer build failed: FATAL.*bad layer"):
        ApptainerConverter("apptainer").convert(resolved, tmp_path / "o.sif", tmp_path, None)


def test_a_missing_builder_is_named(h: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing, match=r"singularity \(package singularity-ce"):
        converter_for("singularity").convert(h.resolved(1), tmp_path / "o.sif", tmp_path, None)
    with pytest.raises(ToolMissing, match=r"skopeo \(package skopeo\), umoci \(package umoci\), mksquashfs"):
        converter_for("auto").convert(h.resolved(1), tmp_path / "o.sif", tmp_path, None)
