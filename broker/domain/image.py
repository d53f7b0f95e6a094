"""Image references shared by the image service (which builds SIFs) and the adapters (which run them).

Contract: a SIF converted from the image with digest ``sha256:<hex>`` is stored as ``sha256-<hex>.sif`` in the
backend's image directory. Kubernetes runs the digest-pinned reference itself.
"""

from __future__ import annotations

import re

_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def digest_of(image_ref: str) -> str | None:
    """``sha256:<hex>`` of a digest-pinned reference (``repo@sha256:<hex>``), else None."""
    match = _DIGEST.search(image_ref)
    return match.group(1) if match else None


def sif_filename(digest: str) -> str:
    """The cache file name of the SIF built from ``digest`` (``sha256:<hex>`` -> ``sha256-<hex>.sif``)."""
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexpart):
        raise ValueError(f"{digest!r} is not a sha256 digest")
    return f"sha256-{hexpart}.sif"
