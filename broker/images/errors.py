"""Errors of the image service. Every message names the image (or tool) and says why.

Callers (the broker's submit path, the CLI) catch ``ImageError``; a failed conversion fails the job with
``str(error)`` as its reason.
"""

from __future__ import annotations


class ImageError(Exception):
    """Base of every image error. ``image`` is the reference the user gave (or a digest)."""

    def __init__(self, image: str, reason: str):
        self.image = image
        self.reason = reason
        super().__init__(f"image {image!r}: {reason}")


class ImageNotFound(ImageError):
    """The registry or the local source does not have this image (or tag)."""


class RegistryUnreachable(ImageError):
    """The registry did not answer in time or refused the connection; retrying later may help."""


class DigestMismatch(ImageError):
    """The source now holds different content than the digest the job was pinned to."""


class ConversionFailed(ImageError):
    """A conversion step failed (corrupt layer, bad archive, full disk...); no SIF was cached."""


class ToolMissing(ImageError):
    """A command-line tool the chosen pipeline needs is not installed."""
