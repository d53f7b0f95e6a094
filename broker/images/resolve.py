"""Resolve ``spec.image`` to the digest both tracks run.

``resolve_image(image, settings)`` returns a ``ResolvedImage``:

- ``digest``: ``sha256:<hex>`` of the image manifest (of the manifest list for multi-arch registry images);
- ``pinned_ref``: ``repo@sha256:<hex>``, what Kubernetes runs (the mirror's repository when a mirror applied);
- ``source``: the skopeo transport reference the converter copies from (pinned to the digest for registries).

Order: an air-gapped ``sources`` entry (``oci:/path:tag``, ``docker-archive:/path.tar``) for the reference
as written or normalised; otherwise the registry (after the ``mirrors`` prefix map) via ``skopeo inspect``
bounded by ``inspectTimeoutSeconds``. Raises ImageNotFound, RegistryUnreachable, ToolMissing or ImageError,
each naming the image and the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from dualtrack.broker.images.errors import ImageError, ImageNotFound, RegistryUnreachable
from dualtrack.broker.images.reference import apply_mirrors, parse_reference
from dualtrack.broker.images.settings import ImageSettings
from dualtrack.broker.images.tools import run_capture, tail

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_UNREACHABLE = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "dial tcp",
    "tls:",
    "network is unreachable",
    "timeout",
    "context deadline exceeded",
    "server gave http response",
)
_NOT_FOUND = (
    "manifest unknown",
    "name unknown",
    "not found",
    "no such file",
    "no descriptor found",
    "does not exist",
    "repository name not known",
)


@dataclass(frozen=True)
class ResolvedImage:
    original: str  # as the user wrote it
    pinned_ref: str  # repo@sha256:<hex>
    digest: str  # sha256:<hex>
    source: str  # skopeo transport reference, e.g. docker://repo@sha256:.. or oci:/path:tag
    size_bytes: int | None = None  # sum of the layer sizes when the source reports them


def resolve_image(image: str, settings: ImageSettings) -> ResolvedImage:
    """See the module docstring."""
    try:
        ref = parse_reference(image)
    except ValueError as e:
        raise ImageError(image, str(e)) from None
    local = settings.sources.get(image) or settings.sources.get(ref.normalized())
    if local is not None:
        info = inspect(local, image, settings.inspect_timeout_seconds)
        digest = _digest(info, image, local)
        if ref.digest and ref.digest != digest:
            raise ImageError(image, f"the local source {local} holds {digest}, not the requested {ref.digest}")
        size = _size(info) or _manifest_size(local, image, settings.inspect_timeout_seconds)
        return ResolvedImage(image, f"{ref.repository}@{digest}", digest, local, size)
    target = apply_mirrors(ref.normalized(), dict(settings.mirrors))
    info = inspect(f"docker://{target}", image, settings.inspect_timeout_seconds)
    digest = _digest(info, image, target)
    target_repo = parse_reference(target).repository
    # Kubernetes pulls what the broker could reach: the mirror's repository when a mirror applied, else the
    # user's own spelling. Mirrors preserve digests, so both tracks run the same bytes either way.
    pinned_repo = ref.repository if target_repo == ref.full_repository else target_repo
    source = f"docker://{target_repo}@{digest}"
    size = _size(info) or _manifest_size(source, image, settings.inspect_timeout_seconds)
    return ResolvedImage(image, f"{pinned_repo}@{digest}", digest, source, size)


def inspect(transport_ref: str, image: str, timeout: float) -> dict[str, object]:
    """``skopeo inspect --no-tags`` as a dict. Classifies failures as not found / unreachable / other."""
    argv = ["skopeo", "inspect", "--no-tags", "--retry-times", "0", transport_ref]
    done = run_capture(argv, image, timeout=timeout)
    if done.returncode != 0:
        why = tail(done.stderr)
        lowered = why.lower()
        if any(word in lowered for word in _UNREACHABLE):
            raise RegistryUnreachable(image, f"{transport_ref} unreachable: {why}")
        if any(word in lowered for word in _NOT_FOUND):
            raise ImageNotFound(image, f"{transport_ref} not found: {why}")
        raise ImageError(image, f"skopeo inspect {transport_ref} failed: {why}")
    try:
        info = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ImageError(image, f"skopeo inspect {transport_ref} printed no JSON") from None
    if not isinstance(info, dict):
        raise ImageError(image, f"skopeo inspect {transport_ref} printed unexpected JSON")
    return info


def _digest(info: dict[str, object], image: str, where: str) -> str:
    digest = info.get("Digest")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ImageError(image, f"{where} reports no sha256 manifest digest (got {digest!r})")
    return digest


def _size(info: dict[str, object]) -> int | None:
    layers = info.get("LayersData")
    if not isinstance(layers, list):
        return None
    sizes = [layer.get("Size") for layer in layers if isinstance(layer, dict)]
    return sum(s for s in sizes if isinstance(s, int)) if sizes else None


def _manifest_size(transport_ref: str, image: str, timeout: float) -> int | None:
    """Layer bytes from the raw manifest (older skopeo prints no LayersData); None for lists or trouble."""
    done = run_capture(["skopeo", "inspect", "--raw", "--retry-times", "0", transport_ref], image, timeout=timeout)
    if done.returncode != 0:
        return None
    try:
        manifest = json.loads(done.stdout)
    except json.JSONDecodeError:
        return None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list):
        return None
    return sum(layer.get("size", 0) for layer in layers if isinstance(layer, dict)) or None
