"""Same image on both tracks: resolve an OCI image to its digest, convert it to a SIF once, cache it.

The broker uses ``ImageService`` (service.py); the rest is its parts: resolve.py (digest pinning), convert.py
(apptainer build or skopeo -> umoci -> mksquashfs -> siftool), cache.py (content-addressed, locked, LRU),
settings.py (the ``images:`` config mapping), errors.py. Imports only broker.domain from the project.
"""

from dualtrack.broker.images.cache import CacheEntry, SifCache
from dualtrack.broker.images.convert import Converter, ProgressFn, converter_for
from dualtrack.broker.images.errors import (
    ConversionFailed,
    DigestMismatch,
    ImageError,
    ImageNotFound,
    RegistryUnreachable,
    ToolMissing,
)
from dualtrack.broker.images.resolve import ResolvedImage, resolve_image
from dualtrack.broker.images.service import ImageService
from dualtrack.broker.images.settings import ImageSettings

__all__ = [
    "CacheEntry",
    "ConversionFailed",
    "Converter",
    "DigestMismatch",
    "ImageError",
    "ImageNotFound",
    "ImageService",
    "ImageSettings",
    "ProgressFn",
    "RegistryUnreachable",
    "ResolvedImage",
    "SifCache",
    "ToolMissing",
    "converter_for",
    "resolve_image",
]
