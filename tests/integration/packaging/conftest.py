"""The built wheel (session): ``pip wheel --no-deps`` of a private copy of the checkout into a temporary folder.

Shared by the wheel tests of one pytest worker, so the wheel is built once per worker (~10 s). The copy matters:
setuptools builds in ``<source>/build``, and two workers building from the checkout itself at once remove each
other's files there (``Directory not empty: 'dualtrack'``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def source_files() -> list[str]:
    """The checkout's files as git sees them: committed, and new ones not ignored (a working tree under test)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout
    names = [name for name in listed.decode().split("\0") if name]
    return [name for name in names if (REPO / name).is_symlink() or (REPO / name).is_file()]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name, follow_symlinks=False)
    # --no-build-isolation: the venv already has setuptools (pyproject's build floor); no index round trip
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = sorted(out.glob("dualtrack-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]
