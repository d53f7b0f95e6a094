"""Docker reference helpers: normalise ``ultralytics/ultralytics:8.3.40`` and split repository / tag / digest.

Pure functions, no I/O. ``normalize("busybox")`` is ``docker.io/library/busybox:latest`` (Docker's defaults).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class Reference:
    repository: str  # as written, without tag or digest (``ultralytics/ultralytics``)
    tag: str | None
    digest: str | None

    @property
    def domain(self) -> str | None:
        first, sep, _ = self.repository.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            return first
        return None

    @property
    def full_repository(self) -> str:
        """The repository with Docker's implicit registry and ``library/`` namespace spelled out."""
        if self.domain is not None:
            return self.repository
        path = self.repository if "/" in self.repository else f"library/{self.repository}"
        return f"{DEFAULT_REGISTRY}/{path}"

    def normalized(self) -> str:
        """``docker.io/library/x:latest`` style; the digest is kept when present (and the tag dropped)."""
        if self.digest:
            return f"{self.full_repository}@{self.digest}"
        return f"{self.full_repository}:{self.tag or 'latest'}"


def parse_reference(image: str) -> Reference:
    """Split ``[host[:port]/]path[:tag][@sha256:hex]``. Raises ValueError for an empty reference."""
    if not image or image != image.strip():
        raise ValueError(f"{image!r} is not an image reference")
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        repository, tag = rest[:colon], rest[colon + 1 :]
    else:
        repository, tag = rest, None
    return Reference(repository=repository, tag=tag or None, digest=digest or None)


def apply_mirrors(normalized: str, mirrors: dict[str, str] | None) -> str:
    """Rewrite ``normalized`` with the longest matching mirror prefix (unchanged when none matches)."""
    for prefix in sorted(mirrors or {}, key=len, reverse=True):
        if normalized.startswith(prefix):
            assert mirrors is not None
            return mirrors[prefix] + normalized[len(prefix) :]
    return normalized
