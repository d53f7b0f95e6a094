"""The built wheel (session): ``pip wheel --no-deps`` of the checkout into a temporary folder.

Shared by the wheel-contents test and the installed-wheel test, so the wheel is built once per run (~10 s).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: the venv already has setuptools (pyproject's build floor); no index round trip
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = sorted(out.glob("dualtrack-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]
