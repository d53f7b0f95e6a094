"""Shared helpers of the image unit tests: a fake converter that writes a tiny SIF-looking file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from dualtrack.broker.images.convert import SIF_MAGIC, SIF_MAGIC_OFFSET, ProgressFn
from dualtrack.broker.images.errors import ConversionFailed
from dualtrack.broker.images.resolve import ResolvedImage


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def resolved(n: int = 1, image: str = "example/app:1") -> ResolvedImage:
    return ResolvedImage(image, f"example/app@{digest(n)}", digest(n), "oci:/nowhere:1", 1000)


def fake_sif_bytes(size: int) -> bytes:
    head = b"\0" * SIF_MAGIC_OFFSET + SIF_MAGIC
    return head + b"x" * max(0, size - len(head))


class FakeConverter:
    """Writes ``size`` bytes of SIF-looking data; appends one line per conversion to ``log`` (any process)."""

    name = "fake"

    def __init__(self, log: Path, size: int = 100, delay: float = 0.0, fail: str | None = None):
        self.log, self.size, self.delay, self.fail = log, size, delay, fail
        self.seen_paths: list[Path] = []

    def convert(self, resolved: ResolvedImage, dest: Path, workdir: Path, progress: ProgressFn | None) -> None:
        assert workdir.is_dir() and not any(workdir.iterdir())
        self.seen_paths.append(dest)
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{os.getpid()} {resolved.digest}\n".encode())
        os.close(fd)
        (workdir / "scratch").write_text("scratch")
        if self.fail == "before-write":
            raise ConversionFailed(resolved.original, "skopeo copy failed: blob digest mismatch")
        with dest.open("wb") as f:
            f.write(fake_sif_bytes(self.size)[: self.size // 2])
            f.flush()
            time.sleep(self.delay)
            if self.fail == "mid-write":
                raise ConversionFailed(resolved.original, "mksquashfs failed: no space left on device")
            f.write(fake_sif_bytes(self.size)[self.size // 2 :])
        if self.fail == "garbage":
            dest.write_bytes(b"not a sif at all")
        if progress:
            progress("done", 1.0)

    def conversions(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "conversions.log"


@pytest.fixture
def h() -> SimpleNamespace:
    """The helpers above (test modules cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(FakeConverter=FakeConverter, digest=digest, resolved=resolved, fake_sif_bytes=fake_sif_bytes)
