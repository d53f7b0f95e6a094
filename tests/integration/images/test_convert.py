"""Real conversions: OCI layout / docker-archive -> SIF with skopeo, umoci, mksquashfs and siftool."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dualtrack.broker.cli.image_cmd import app
from dualtrack.broker.domain.image import sif_filename
from dualtrack.broker.images import ImageService, ImageSettings
from dualtrack.broker.images.convert import SkopeoUmociConverter
from dualtrack.broker.images.errors import ConversionFailed, DigestMismatch, ImageError, ImageNotFound
from dualtrack.broker.images.singularity_dir import ADDED_PATHS


def service(oci_image: SimpleNamespace, tmp_path: Path, **sources: str) -> ImageService:
    settings = ImageSettings.from_mapping(
        {
            "cacheDir": str(tmp_path / "cache"),
            "workDir": str(tmp_path / "work"),
            "builder": "skopeo-umoci",
            "sources": {oci_image.ref: oci_image.source, **sources},
        }
    )
    return ImageService(settings)


def tree(root: Path) -> dict[str, tuple[str, int, bytes | str]]:
    """relative path -> (kind, permission bits, content or link target) for everything under ``root``."""
    out: dict[str, tuple[str, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", 0, os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), b"")
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return out


def cache_leftovers(cache_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(cache_dir)) for p in cache_dir.rglob("*") if ".locks" not in p.parts)


def test_sif_has_one_squashfs_system_partition_holding_exactly_the_rootfs(
    oci_image: SimpleNamespace, tmp_path: Path
) -> None:
    svc = service(oci_image, tmp_path)
    resolved = svc.pin(oci_image.ref)
    assert resolved.digest == oci_image.digest
    assert resolved.pinned_ref == f"registry.example.local/dualtrack/marker@{oci_image.digest}"
    sif = svc.ensure_sif(resolved)
    assert sif == tmp_path / "cache" / sif_filename(oci_image.digest)

    listing = subprocess.run(["siftool", "list", str(sif)], check=True, capture_output=True, text=True).stdout
    partitions = [line for line in listing.splitlines() if "|FS (" in line]
    assert len(partitions) == 1, listing
    assert "FS (Squashfs/*System/amd64)" in partitions[0]
    partition_id = partitions[0].split("|")[0].strip()

    squashfs = tmp_path / "partition.squashfs"
    with squashfs.open("wb") as f:
        subprocess.run(["siftool", "dump", partition_id, str(sif)], check=True, stdout=f)
    extracted = tmp_path / "extracted"
    subprocess.run(["unsquashfs", "-no-progress", "-d", str(extracted), str(squashfs)], check=True, capture_output=True)

    expected, got = tree(oci_image.expected_rootfs), tree(extracted)
    assert {k: v for k, v in got.items() if k in expected} == expected  # every image file, byte for byte
    assert "opt/removed.txt" not in got  # the second layer's whiteout was applied
    extras = set(got) - set(expected)
    assert extras <= ADDED_PATHS, extras - ADDED_PATHS
    assert {".singularity.d/runscript", ".singularity.d/env/10-docker2singularity.sh", ".exec"} <= extras
    env_script = got[".singularity.d/env/10-docker2singularity.sh"][2]
    assert isinstance(env_script, bytes) and b"DUALTRACK_IMAGE_ENV='from-the-image'" in env_script
    assert json.loads(got[".singularity.d/labels.json"][2]) == {"org.example.test": "dualtrack"}
    assert all(p.stat().st_uid == 0 for p in extracted.rglob("*") if not p.is_symlink())  # -all-root

    oci_config = subprocess.run(["siftool", "dump", "2", str(sif)], check=True, capture_output=True).stdout
    assert json.loads(oci_config)["WorkingDir"] == "/opt/app"
    print(f"\nSIF {sif.stat().st_size} bytes for a {sum(len(v[2]) for v in expected.values())}-byte rootfs")


def test_docker_archive_source_converts_too(oci_image: SimpleNamespace, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    subprocess.run(["skopeo", "copy", "--quiet", oci_image.source, f"docker-archive:{archive}:x/y:1"], check=True)
    svc = service(oci_image, tmp_path, **{"archived/app:1": f"docker-archive:{archive}"})
    resolved = svc.pin("archived/app:1")
    assert resolved.pinned_ref == f"archived/app@{resolved.digest}" and resolved.size_bytes
    sif = svc.ensure_sif(resolved)
    extracted = tmp_path / "x"
    subprocess.run(["unsquashfs", "-no-progress", "-o", "32768", "-d", str(extracted), str(sif)],
                   check=True, capture_output=True)  # fmt: skip
    assert (extracted / "opt" / "dualtrack-marker.txt").read_text() == oci_image.marker


def test_corrupt_image_fails_clearly_and_leaves_no_partial_sif(oci_image: SimpleNamespace, tmp_path: Path) -> None:
    layout = tmp_path / "corrupt-layout"
    shutil.copytree(oci_image.layout, layout)
    largest = max((layout / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)  # the rootfs layer
    data = bytearray(largest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    largest.write_bytes(bytes(data))
    outcomes: list[str] = []
    svc = service(oci_image, tmp_path, **{"corrupt/app:1": f"oci:{layout}:t"})
    svc._on_conversion = lambda d, s, o: outcomes.append(o)
    resolved = svc.pin("corrupt/app:1")  # the manifest is intact: pinning works, the layer is bad
    with pytest.raises(ConversionFailed) as error:
        svc.ensure_sif(resolved)
    assert "corrupt/app:1" in str(error.value) and "skopeo copy failed" in str(error.value)
    assert cache_leftovers(tmp_path / "cache") == []
    assert list((tmp_path / "work").iterdir()) == []
    assert outcomes == ["failure"] and not svc.has_sif(resolved.digest)


def test_missing_image_fails_clearly_and_leaves_nothing(oci_image: SimpleNamespace, tmp_path: Path) -> None:
    layout = tmp_path / "vanishing"
    shutil.copytree(oci_image.layout, layout)
    svc = service(oci_image, tmp_path, **{"vanishing/app:1": f"oci:{layout}:t", "absent/app:1": "oci:/no/such:t"})
    with pytest.raises(ImageNotFound, match="absent/app:1"):
        svc.pin("absent/app:1")
    resolved = svc.pin("vanishing/app:1")
    shutil.rmtree(layout)
    with pytest.raises(ImageError, match=r"vanishing/app:1.*not found"):
        svc.ensure_sif(resolved)
    assert not (tmp_path / "cache").exists() or cache_leftovers(tmp_path / "cache") == []


def test_source_changed_after_pinning_is_refused(oci_image: SimpleNamespace, tmp_path: Path) -> None:
    layout = tmp_path / "moving"
    shutil.copytree(oci_image.layout, layout)
    svc = service(oci_image, tmp_path, **{"moving/app:1": f"oci:{layout}:t"})
    resolved = svc.pin("moving/app:1")
    subprocess.run(["umoci", "config", "--image", f"{layout}:t", "--config.env", "NEW=1"], check=True)
    with pytest.raises(DigestMismatch, match=f"not {resolved.digest}"):
        svc.ensure_sif(resolved)
    assert cache_leftovers(tmp_path / "cache") == []


def test_cli_convert_prints_the_pinned_ref_and_the_sif(oci_image: SimpleNamespace, tmp_path: Path) -> None:
    config = tmp_path / "broker.yaml"
    config.write_text(f"images:\n  cacheDir: {tmp_path / 'cache'}\n  builder: skopeo-umoci\n")
    runner = CliRunner()
    result = runner.invoke(app, ["convert", "cli/app:2", "--source", oci_image.source, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"cli/app@{oci_image.digest}" in result.output and "converted in" in result.output
    again = runner.invoke(app, ["convert", "cli/app:2", "--source", oci_image.source, "--config", str(config)])
    assert "already cached" in again.output
    listed = runner.invoke(app, ["ls", "--json", "--config", str(config)])
    assert oci_image.digest in listed.output


def test_missing_tool_is_named(oci_image: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = service(oci_image, tmp_path)
    resolved = svc.pin(oci_image.ref)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("skopeo", "umoci"):  # everything but mksquashfs and siftool
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(ImageError, match=r"mksquashfs \(package squashfs-tools\), siftool \(package siftool\)"):
        SkopeoUmociConverter().convert(resolved, tmp_path / "x.sif", tmp_path, None)


def _ensure_in_process(svc: ImageService, ref: str, barrier: object) -> None:
    resolved = svc.pin(ref)
    barrier.wait()  # type: ignore[attr-defined]
    assert svc.ensure_sif(resolved).exists()


def test_four_processes_requesting_one_digest_convert_once_with_the_real_tools(
    oci_image: SimpleNamespace, tmp_path: Path
) -> None:
    log = tmp_path / "conversions.log"

    def record(digest: str, seconds: float, outcome: str) -> None:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {digest} {outcome}\n")

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    processes = []
    for _ in range(4):
        svc = service(oci_image, tmp_path)
        svc._on_conversion = record
        processes.append(context.Process(target=_ensure_in_process, args=(svc, oci_image.ref, barrier)))
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert len(log.read_text().splitlines()) == 1, log.read_text()
    assert cache_leftovers(tmp_path / "cache") == [sif_filename(oci_image.digest)]
