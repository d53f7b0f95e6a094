"""An OCI image built inside the tests from local files (no registry is reachable here).

``oci_image`` (session): a tiny rootfs made of the host's bash, cat and env plus the libraries ``ldd`` lists, a
marker file that exists only in the image, a relative symlink, a 0750 script and the image's own /etc/hosts;
layer 1 inserts it, layer 2 whites out /opt/removed.txt; the config sets ENV, WORKDIR, ENTRYPOINT, CMD and a
label. ``expected_rootfs`` is what unpacking the image must give (the rootfs without the removed file).
Skips with the missing tool's name when skopeo, umoci, squashfs-tools or siftool are absent.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

TOOLS = {"skopeo": "skopeo", "umoci": "umoci", "mksquashfs": "squashfs-tools", "unsquashfs": "squashfs-tools",
         "siftool": "siftool"}  # fmt: skip
PROGRAMS = ("/usr/bin/bash", "/usr/bin/cat", "/usr/bin/env")
IMAGE_REF = "registry.example.local/dualtrack/marker:1"
IMAGE_ENV = "DUALTRACK_IMAGE_ENV"


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def libraries(program: str) -> list[str]:
    return re.findall(r"(?:=> )?(/\S+) \(0x", run("ldd", program))


def build_rootfs(root: Path, marker: str) -> None:
    (root / "usr" / "bin").mkdir(parents=True)
    for program in PROGRAMS:
        shutil.copy2(program, root / "usr" / "bin" / Path(program).name)
        for library in libraries(program):
            target = root / library.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(library).resolve(), target)
    (root / "bin").symlink_to("usr/bin")
    (root / "usr" / "bin" / "sh").symlink_to("bash")
    (root / "opt" / "app").mkdir(parents=True)
    (root / "opt" / "dualtrack-marker.txt").write_text(marker)
    (root / "opt" / "removed.txt").write_text("removed by the second layer\n")
    script = root / "opt" / "app" / "run.sh"
    script.write_text("#!/bin/sh\necho app\n")
    script.chmod(0o750)
    (root / "opt" / "app" / "marker-link").symlink_to("../dualtrack-marker.txt")
    (root / "etc").mkdir()
    (root / "etc" / "hosts").write_text("127.0.0.1 the-image-own-hosts-file\n")


@pytest.fixture(scope="session")
def image_tools() -> None:
    absent = [f"{tool} (package {package})" for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"image integration tests need {', '.join(absent)}")


@pytest.fixture(scope="session")
def oci_image(image_tools: None, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    base = tmp_path_factory.mktemp("oci-image")
    marker = f"only-in-the-image {secrets.token_hex(8)}\n"
    rootfs = base / "rootfs"
    build_rootfs(rootfs, marker)
    layout = base / "layout"
    image = f"{layout}:t"
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", image)
    run("umoci", "insert", "--image", image, str(rootfs), "/")
    run("umoci", "insert", "--image", image, "--whiteout", "/opt/removed.txt")
    run("umoci", "config", "--image", image, "--config.env", f"{IMAGE_ENV}=from-the-image",
        "--config.env", "PATH=/usr/local/bin:/usr/bin:/bin", "--config.workingdir", "/opt/app",
        "--config.entrypoint", "/usr/bin/bash", "--config.cmd", "-c", "--config.cmd", "echo default-cmd",
        "--config.label", "org.example.test=dualtrack")  # fmt: skip
    (rootfs / "opt" / "removed.txt").unlink()
    digest = run("skopeo", "inspect", "--format", "{{.Digest}}", f"oci:{image}").strip()
    return SimpleNamespace(
        ref=IMAGE_REF, source=f"oci:{image}", layout=layout, tag="t", expected_rootfs=rootfs, marker=marker,
        digest=digest, base=base,
    )  # fmt: skip
