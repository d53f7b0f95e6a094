"""A tiny OCI image built in the tests from the host's own programs (no registry is reachable here): bash
and cat with the libraries ``ldd`` lists, a marker file only the image has, ENV, WORKDIR and ENTRYPOINT."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

PROGRAMS = ("/usr/bin/bash", "/usr/bin/cat")
IMAGE_ENV = "KUBELET_IMAGE_ENV"


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def build_layout(base: Path, marker: str, tag: str = "t") -> tuple[Path, str]:
    """An OCI layout at ``base/layout`` holding one image tagged ``tag``; returns (layout, manifest digest)."""
    root = base / "rootfs"
    (root / "usr" / "bin").mkdir(parents=True)
    for program in PROGRAMS:
        shutil.copy2(program, root / "usr" / "bin")
        for library in re.findall(r"(?:=> )?(/\S+) \(0x", _run("ldd", program)):
            target = root / library.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(library).resolve(), target)
    (root / "bin").symlink_to("usr/bin")
    (root / "opt" / "app").mkdir(parents=True)
    (root / "opt" / "marker.txt").write_text(marker)
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text("ID=kubelet-test-image\n")
    layout = base / "layout"
    image = f"{layout}:{tag}"
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", image)
    _run("umoci", "insert", "--image", image, str(root), "/")
    _run("umoci", "config", "--image", image, "--config.env", f"{IMAGE_ENV}=from-the-image",
         "--config.env", "PATH=/usr/bin:/bin", "--config.workingdir", "/opt/app",
         "--config.entrypoint", "/usr/bin/bash")
    index = json.loads((layout / "index.json").read_text())
    return layout, str(index["manifests"][0]["digest"])
