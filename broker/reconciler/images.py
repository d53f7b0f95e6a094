"""Image preparation before dispatch: pin the image to a digest, and on backends that run SIF images make
sure the SIF exists (converted in the background, once per digest).

``prepare_image`` returns the digest-pinned reference (or None when no image service is configured) and
raises ImageNotReady while a conversion is still running, or the image service's error when it failed.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from dualtrack.adapters.base import Backend, ImageConsumer
from dualtrack.broker.context import BrokerContext
from dualtrack.broker.domain import Job


class ImageNotReady(Exception):
    """The SIF for this job's image is being converted."""


_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sif-convert")
_lock = threading.Lock()
_conversions: dict[str, Future[Any]] = {}


def prepare_image(ctx: BrokerContext, job: Job, backend: Backend) -> str | None:
    service: Any = ctx.images
    if service is None:
        return job.image_ref
    resolved = service.pin(job.spec.spec.image)
    if isinstance(backend, ImageConsumer) and backend.needs_sif and not service.has_sif(resolved.digest):
        with _lock:
            future = _conversions.get(resolved.digest)
            if future is None:
                future = _pool.submit(service.ensure_sif, resolved)
                _conversions[resolved.digest] = future
        if not future.done():
            raise ImageNotReady(resolved.digest)
        with _lock:
            _conversions.pop(resolved.digest, None)
        future.result()  # raises the conversion's error
    return str(resolved.pinned_ref)
