"""Converting a resolved image into a SIF file.

``converter_for(builder)`` returns the Converter the settings ask for: ``apptainer build`` /
``singularity build`` where present (``auto`` prefers them), otherwise the tool pipeline

    skopeo copy <source> oci:<work>/layout:img -> umoci unpack -> /.singularity.d (singularity_dir)
    -> mksquashfs rootfs img.squashfs -noappend -all-root -> siftool new + add (primary system partition)
    + the image config as the ``oci-config.json`` object, as Apptainer stores it.

``Converter.convert(resolved, dest, workdir, progress)`` writes the SIF to ``dest`` (which must not exist) and
uses ``workdir`` (empty, deleted by the caller) for scratch files. Raises ToolMissing, DigestMismatch or
ConversionFailed naming the image and the failing step; it never leaves anything the caller did not ask for.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from dualtrack.broker.images.errors import ConversionFailed, DigestMismatch
from dualtrack.broker.images.oci_layout import image_config
from dualtrack.broker.images.resolve import ResolvedImage, inspect
from dualtrack.broker.images.singularity_dir import add_singularity_dir
from dualtrack.broker.images.tools import require, run

ProgressFn = Callable[[str, float], None]  # (step description, fraction of the whole conversion done 0..1)

PIPELINE_TOOLS = ("skopeo", "umoci", "mksquashfs", "siftool")
SIF_ARCH = {"386": 1, "amd64": 2, "arm": 3, "arm64": 4, "ppc64": 5, "ppc64le": 6, "mips": 7, "mipsle": 8,
            "mips64": 9, "mips64le": 10, "s390x": 11, "riscv64": 12}  # fmt: skip
SIF_MAGIC_OFFSET, SIF_MAGIC = 32, b"SIF_MAGIC"
INSPECT_TIMEOUT = 60.0


class Converter(Protocol):
    name: str

    def convert(self, resolved: ResolvedImage, dest: Path, workdir: Path, progress: ProgressFn | None) -> None: ...


def _report(progress: ProgressFn | None, step: str, fraction: float) -> None:
    if progress is not None:
        progress(step, fraction)


def verify_source_digest(resolved: ResolvedImage) -> None:
    """A local source (layout, archive) may change after pinning: check it still holds the pinned digest.

    Registry sources are copied by digest, which the registry protocol verifies, so they need no check.
    """
    if resolved.source.startswith("docker://"):
        return
    info = inspect(resolved.source, resolved.original, INSPECT_TIMEOUT)
    if info.get("Digest") != resolved.digest:
        raise DigestMismatch(
            resolved.original,
            f"{resolved.source} now holds {info.get('Digest')}, not {resolved.digest} the job was pinned to",
        )


class SkopeoUmociConverter:
    """The pipeline without Apptainer (see the module docstring)."""

    name = "skopeo-umoci"

    def convert(self, resolved: ResolvedImage, dest: Path, workdir: Path, progress: ProgressFn | None) -> None:
        image = resolved.original
        require(PIPELINE_TOOLS, image, "converting an image to SIF without apptainer")
        verify_source_digest(resolved)
        layout, bundle = workdir / "layout", workdir / "bundle"
        _report(progress, "copying image layers", 0.0)
        run(["skopeo", "copy", "--quiet", resolved.source, f"oci:{layout}:img"], image, ConversionFailed)
        config = image_config(layout, "img", image)
        _report(progress, "unpacking the root filesystem", 0.35)
        unpack = ["umoci", "unpack", *([] if os.geteuid() == 0 else ["--rootless"])]
        run([*unpack, "--image", f"{layout}:img", str(bundle)], image, ConversionFailed)
        shutil.rmtree(layout, ignore_errors=True)  # halve the scratch space before squashing
        _report(progress, "writing /.singularity.d", 0.55)
        rootfs = bundle / "rootfs"
        add_singularity_dir(rootfs, config)
        _report(progress, "building the squashfs", 0.6)
        squashfs, config_json = workdir / "img.squashfs", workdir / "oci-config.json"
        squash = [
            "mksquashfs",
            str(rootfs),
            str(squashfs),
            "-noappend",
            "-all-root",
            "-no-progress",
            "-quiet",
        ]
        run(squash, image, ConversionFailed)
        config_json.write_text(json.dumps(config.raw))
        _report(progress, "writing the SIF", 0.95)
        arch = SIF_ARCH.get(config.architecture)
        if arch is None:
            raise ConversionFailed(image, f"architecture {config.architecture!r} has no SIF code")
        run(["siftool", "new", str(dest)], image, ConversionFailed)
        partition = ["--datatype", "4", "--parttype", "2", "--partfs", "1", "--partarch", str(arch)]
        run(
            ["siftool", "add", *partition, "--groupid", "1", str(dest), str(squashfs)],
            image,
            ConversionFailed,
        )
        oci_config = ["--datatype", "6", "--filename", "oci-config.json", str(dest), str(config_json)]
        run(["siftool", "add", *oci_config], image, ConversionFailed)
        _report(progress, "done", 1.0)


class ApptainerConverter:
    """``apptainer build`` (or ``singularity build``): the runtime's own converter, used where present."""

    def __init__(self, binary: str):
        self.name = binary
        self.binary = binary

    def convert(self, resolved: ResolvedImage, dest: Path, workdir: Path, progress: ProgressFn | None) -> None:
        image = resolved.original
        require([self.binary], image, f"the {self.binary} builder")
        verify_source_digest(resolved)
        _report(progress, f"{self.binary} build", 0.0)
        prefix = self.binary.upper()
        env = {**os.environ, f"{prefix}_TMPDIR": str(workdir), f"{prefix}_CACHEDIR": str(workdir / "cache")}
        run([self.binary, "build", "--force", str(dest), resolved.source], image, ConversionFailed, env=env)
        _report(progress, "done", 1.0)


def converter_for(builder: str) -> Converter:
    """The converter for a ``builder`` setting (auto | apptainer | singularity | skopeo-umoci)."""
    if builder == "auto":
        for binary in ("apptainer", "singularity"):
            if shutil.which(binary):
                return ApptainerConverter(binary)
        return SkopeoUmociConverter()
    if builder in ("apptainer", "singularity"):
        return ApptainerConverter(builder)
    if builder == "skopeo-umoci":
        return SkopeoUmociConverter()
    raise ValueError(f"images.builder: {builder!r} is not one of auto, apptainer, singularity, skopeo-umoci")


def looks_like_sif(path: Path) -> bool:
    """True when ``path`` carries the SIF magic (a cheap check that a conversion really wrote a SIF)."""
    try:
        with path.open("rb") as f:
            f.seek(SIF_MAGIC_OFFSET)
            return f.read(len(SIF_MAGIC)) == SIF_MAGIC
    except OSError:
        return False
