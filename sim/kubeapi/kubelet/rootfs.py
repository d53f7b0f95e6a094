"""Root filesystems of container images for the process kubelet: a pod's image is looked up in the local
OCI layouts the kubelet config names, and unpacked once per manifest digest.

Caller: ``sim.kubeapi.kubelet.process`` (from a pod's start thread, never under the store lock).
``ImageStore.find(image)`` returns an ``ImageLocation`` (layout, tag, digest) or None when no layout holds the
image: the pod then runs on the host's root filesystem. A reference ``repo@sha256:<hex>`` matches a manifest
of that digest; ``repo:tag`` (and ``repo``, tag ``latest``) matches the tag (``org.opencontainers.image.ref.name``)
or the full reference (``io.containerd.image.name``). ``ImageStore.rootfs(location)`` unpacks with
``umoci unpack`` into ``<imageCache>/sha256-<hex>/`` (an flock and a thread lock per digest: one unpacking
across processes, later callers wait and reuse it) and returns the bundle's ``rootfs`` folder and the image
config. Raises ``ImageError`` naming the image and the reason.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from dualtrack.broker.images.errors import ConversionFailed, ImageError, ToolMissing
from dualtrack.broker.images.oci_layout import REF_NAME, ImageConfig, image_config

CONTAINERD_NAME = "io.containerd.image.name"
UNPACK_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class ImageLocation:
    layout: Path
    tag: str
    digest: str  # sha256:<hex> of the manifest


def split_reference(image: str) -> tuple[str, str | None, str | None]:
    """``repo[:tag][@sha256:hex]`` -> (repo, tag or None, digest or None)."""
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = None
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    return rest, tag, digest or None


class ImageStore:
    """See the module docstring."""

    def __init__(self, layouts: list[Path], cache: Path):
        self.layouts = layouts
        self.cache = cache
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def find(self, image: str) -> ImageLocation | None:
        _repo, tag, digest = split_reference(image)
        for layout in self.layouts:
            try:
                index = json.loads((layout / "index.json").read_text())
            except (OSError, ValueError):
                continue
            for manifest in index.get("manifests") or ():
                annotations = manifest.get("annotations") or {}
                ref_name = annotations.get(REF_NAME)
                if not ref_name:
                    continue
                if digest is not None:
                    hit = manifest.get("digest") == digest
                else:
                    hit = ref_name == (tag or "latest") or annotations.get(CONTAINERD_NAME) == image
                if hit:
                    return ImageLocation(layout, str(ref_name), str(manifest.get("digest")))
        return None

    def rootfs(self, location: ImageLocation, image: str) -> tuple[Path, ImageConfig]:
        config = image_config(location.layout, location.tag, image)
        bundle = self.cache / location.digest.replace(":", "-")
        if (bundle / "rootfs").is_dir():
            return bundle / "rootfs", config
        with self._guard:
            lock = self._locks.setdefault(location.digest, threading.Lock())
        self.cache.mkdir(parents=True, exist_ok=True)
        with lock, open(self.cache / f".{bundle.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            if not (bundle / "rootfs").is_dir():
                self._unpack(location, bundle, image)
        return bundle / "rootfs", config

    def _unpack(self, location: ImageLocation, bundle: Path, image: str) -> None:
        if shutil.which("umoci") is None:
            raise ToolMissing(image, "umoci is needed to unpack the OCI layout (Debian package umoci)")
        tmp = bundle.with_name(f".{bundle.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        argv = ["umoci", "unpack", *([] if os.geteuid() == 0 else ["--rootless"]),
                "--image", f"{location.layout}:{location.tag}", str(tmp)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=UNPACK_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ConversionFailed(image, f"umoci unpack took over {UNPACK_TIMEOUT_SECONDS} s") from None
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ConversionFailed(image, f"umoci unpack failed: {done.stderr.strip()[-500:]}")
        tmp.rename(bundle)


__all__ = ["ImageError", "ImageLocation", "ImageStore", "split_reference"]
