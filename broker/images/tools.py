"""Running the external tools of the pipeline, with errors that say what is missing or what failed.

``require(tools, image)`` raises ``ToolMissing`` listing every absent tool with the Debian package that ships
it; ``run(argv, image, error, timeout)`` runs one tool and raises ``error`` (an ImageError subclass) with the
tool's own last stderr lines when it fails, or ``RegistryUnreachable`` when it runs out of time.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from dualtrack.broker.images.errors import ImageError, RegistryUnreachable, ToolMissing

PACKAGES: Mapping[str, str] = {
    "skopeo": "skopeo",
    "umoci": "umoci",
    "mksquashfs": "squashfs-tools",
    "unsquashfs": "squashfs-tools",
    "siftool": "siftool",
    "apptainer": "apptainer (https://apptainer.org)",
    "singularity": "singularity-ce (https://sylabs.io)",
    "bwrap": "bubblewrap",
}


def missing(tools: Sequence[str]) -> list[str]:
    """The tools of ``tools`` that are not on PATH."""
    return [tool for tool in tools if shutil.which(tool) is None]


def require(tools: Sequence[str], image: str, purpose: str) -> None:
    """Raise ToolMissing naming every absent tool (and its package) needed for ``purpose``."""
    absent = missing(tools)
    if absent:
        names = ", ".join(f"{t} (package {PACKAGES.get(t, t)})" for t in absent)
        raise ToolMissing(image, f"{purpose} needs {names}, not found on PATH")


def run(
    argv: Sequence[str],
    image: str,
    error: type[ImageError],
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run ``argv``; return its stdout. Raises ``error`` on a non-zero exit, ToolMissing when absent."""
    done = run_capture(argv, image, timeout=timeout, env=env)
    if done.returncode != 0:
        step = " ".join([Path(argv[0]).name, *argv[1:2]])
        raise error(image, f"{step} failed: {tail(done.stderr)}")
    return done.stdout


def run_capture(
    argv: Sequence[str], image: str, timeout: float | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return the finished process whatever its exit code.

    Raises ToolMissing when ``argv[0]`` is absent and RegistryUnreachable when it outlives ``timeout``.
    """
    require([argv[0]], image, f"running {argv[0]}")
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise RegistryUnreachable(image, f"{argv[0]} gave no answer within {timeout:g} s") from None


def tail(stderr: str, lines: int = 3) -> str:
    """The last few non-empty lines of a tool's stderr, without logrus noise (``time=.. msg=``)."""
    kept = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = " | ".join(kept[-lines:]) or "(no error output)"
    if 'msg="' in text:
        text = text.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
    return text
