"""``ImageService``: the one object the broker calls for images (design section 6).

Integration (the broker's submit path and placement)::

    service = ImageService(ImageSettings.from_mapping(config.get("images")),
                           on_conversion=..., on_cache_hit=...)
    resolved = service.pin(spec.image)    # at submit: job.image_ref = resolved.pinned_ref (Kubernetes)
    sif = service.ensure_sif(resolved)    # before a Slurm dispatch; an ImageError fails the job
    service.has_sif(digest) / service.cached_digests()   # ClusterSnapshot.images of the Slurm backend
    service.estimated_conversion_seconds(image)          # 0 when cached; placement adds it to the start

Thread-safe: conversions of one digest are serialised by the cache's lock; estimates use a small memo.
Raises ImageError subclasses only (pin, ensure_sif); the estimate never raises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from dualtrack.broker.domain.image import digest_of
from dualtrack.broker.images.cache import ConversionCallback, HitCallback, SifCache
from dualtrack.broker.images.convert import Converter, ProgressFn, converter_for
from dualtrack.broker.images.errors import ImageError
from dualtrack.broker.images.resolve import ResolvedImage, resolve_image
from dualtrack.broker.images.settings import ImageSettings

Resolver = Callable[[str, ImageSettings], ResolvedImage]

CONVERSION_OVERHEAD_SECONDS = 5.0
UNKNOWN_IMAGE_BYTES = 4 * 1024**3  # the size assumed when the source does not report layer sizes
ESTIMATE_MEMO_SECONDS = 300.0
THROUGHPUT_WEIGHT = 0.3  # weight of the newest conversion in the learnt throughput


class ImageService:
    def __init__(
        self,
        settings: ImageSettings,
        on_conversion: ConversionCallback | None = None,
        on_cache_hit: HitCallback | None = None,
        in_use: Callable[[], Iterable[str]] | None = None,
        converter: Converter | None = None,
        resolver: Resolver = resolve_image,
    ):
        self.settings = settings
        self._resolver = resolver
        self._on_conversion = on_conversion
        self.cache = SifCache(
            settings.cache_dir,
            settings.max_bytes,
            converter=converter or converter_for(settings.builder),
            workdir=settings.work_dir,
            on_conversion=self._conversion_done,
            on_cache_hit=on_cache_hit,
            in_use=in_use,
        )
        self._lock = threading.Lock()
        self._by_digest: dict[str, ResolvedImage] = {}
        self._by_image: dict[str, tuple[float, ResolvedImage]] = {}
        self._failed: dict[str, float] = {}  # image -> when resolving it last failed (estimates only)
        self._bytes_per_second = settings.conversion_bytes_per_second

    def pin(self, image: str) -> ResolvedImage:
        """Resolve ``image`` to its digest now (see broker.images.resolve). Raises ImageError."""
        resolved = self._resolver(image, self.settings)
        with self._lock:
            self._by_digest[resolved.digest] = resolved
            self._by_image[image] = (time.monotonic(), resolved)
        return resolved

    def ensure_sif(self, resolved: ResolvedImage, progress: ProgressFn | None = None) -> Path:
        """The SIF of ``resolved`` in the cache directory, converted now when absent. Raises ImageError."""
        with self._lock:
            self._by_digest.setdefault(resolved.digest, resolved)
        return self.cache.ensure(resolved, progress)

    def sif_path(self, digest: str) -> Path:
        """Where the SIF of ``digest`` is (or will be): ``<cacheDir>/sha256-<hex>.sif``."""
        return self.cache.path_for(digest)

    def has_sif(self, digest: str) -> bool:
        return self.cache.has(digest)

    def cached_digests(self) -> frozenset[str]:
        return frozenset(entry.digest for entry in self.cache.list())

    def estimated_conversion_seconds(self, image: str) -> float:
        """Seconds until ``image`` (a tag or a pinned ref) is available as a SIF: 0 when cached.

        Otherwise a fixed overhead plus its layer bytes over the throughput learnt from past conversions
        (``conversionBytesPerSecond`` until the first). An image that cannot be resolved now counts as
        ``UNKNOWN_IMAGE_BYTES``; this never raises (placement calls it every cycle).
        """
        resolved = self._known(image)
        if resolved is not None and self.has_sif(resolved.digest):
            return 0.0
        size = resolved.size_bytes if resolved is not None and resolved.size_bytes else UNKNOWN_IMAGE_BYTES
        return CONVERSION_OVERHEAD_SECONDS + size / self._bytes_per_second

    def _known(self, image: str) -> ResolvedImage | None:
        digest = digest_of(image)
        now = time.monotonic()
        with self._lock:
            if digest is not None and digest in self._by_digest:
                return self._by_digest[digest]
            memo = self._by_image.get(image)
            if memo is not None and now - memo[0] < ESTIMATE_MEMO_SECONDS:
                return memo[1]
        if digest is not None and self.has_sif(digest):
            return ResolvedImage(image, image, digest, "", None)
        with self._lock:
            failed_at = self._failed.get(image)
        if failed_at is not None and now - failed_at < ESTIMATE_MEMO_SECONDS:
            return None  # do not block every placement cycle on a registry that just failed
        try:
            return self.pin(image)
        except ImageError:
            with self._lock:
                self._failed[image] = now
            return None

    def _conversion_done(self, digest: str, seconds: float, outcome: str) -> None:
        with self._lock:
            resolved = self._by_digest.get(digest)
            if outcome == "success" and resolved is not None and resolved.size_bytes and seconds > 0:
                observed = resolved.size_bytes / max(seconds - CONVERSION_OVERHEAD_SECONDS, 0.1)
                self._bytes_per_second += THROUGHPUT_WEIGHT * (observed - self._bytes_per_second)
        if self._on_conversion:
            self._on_conversion(digest, seconds, outcome)
