from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from dualtrack.broker.images.errors import ImageNotFound
from dualtrack.broker.images.resolve import ResolvedImage
from dualtrack.broker.images.service import CONVERSION_OVERHEAD_SECONDS, UNKNOWN_IMAGE_BYTES, ImageService
from dualtrack.broker.images.settings import ImageSettings


def service(h: SimpleNamespace, tmp_path: Path, log: Path, **kwargs: object) -> tuple[ImageService, list[str]]:
    resolutions: list[str] = []
    table = {"app:1": h.resolved(1, "app:1"), "big:1": ResolvedImage("big:1", "big@x", h.digest(2), "oci:/b", 10**9)}

    def resolver(image: str, settings: ImageSettings) -> ResolvedImage:
        resolutions.append(image)
        if image not in table:
            raise ImageNotFound(image, "not in the test table")
        found: ResolvedImage = table[image]
        return found

    settings = ImageSettings(cache_dir=tmp_path / "c", max_bytes=10**6, work_dir=tmp_path / "w",
                             conversion_bytes_per_second=1e6)  # fmt: skip
    svc = ImageService(settings, converter=h.FakeConverter(log), resolver=resolver, **kwargs)  # type: ignore[arg-type]
    return svc, resolutions


def test_pin_convert_and_query(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    events: list[tuple[str, str]] = []
    svc, _ = service(h, tmp_path, log, on_conversion=lambda d, s, o: events.append((d, o)),
                     on_cache_hit=lambda d: events.append((d, "hit")))  # fmt: skip
    resolved = svc.pin("app:1")
    assert not svc.has_sif(resolved.digest) and svc.cached_digests() == frozenset()
    path = svc.ensure_sif(resolved)
    assert path == svc.sif_path(resolved.digest) == tmp_path / "c" / f"sha256-{'0' * 63}1.sif"
    svc.ensure_sif(resolved)
    assert svc.has_sif(resolved.digest) and svc.cached_digests() == {resolved.digest}
    assert events == [(resolved.digest, "success"), (resolved.digest, "hit")]


def test_estimates(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    svc, resolutions = service(h, tmp_path, log)
    assert svc.estimated_conversion_seconds("big:1") == pytest.approx(CONVERSION_OVERHEAD_SECONDS + 1000)
    assert svc.estimated_conversion_seconds("big:1") > 0 and resolutions == ["big:1"]  # memoised
    assert svc.estimated_conversion_seconds("gone:1") == CONVERSION_OVERHEAD_SECONDS + UNKNOWN_IMAGE_BYTES / 1e6
    svc.estimated_conversion_seconds("gone:1")
    assert resolutions.count("gone:1") == 1  # a failed resolution is not retried every placement cycle
    small = svc.pin("app:1")
    assert svc.estimated_conversion_seconds(small.pinned_ref) == pytest.approx(CONVERSION_OVERHEAD_SECONDS + 0.001)
    svc.ensure_sif(small)
    assert svc.estimated_conversion_seconds("app:1") == 0.0
    assert svc.estimated_conversion_seconds(small.pinned_ref) == 0.0


def test_throughput_is_learnt_from_conversions(h: SimpleNamespace, tmp_path: Path, log: Path) -> None:
    svc, _ = service(h, tmp_path, log)
    before = svc.estimated_conversion_seconds("big:1")
    svc._by_digest[h.digest(2)] = svc.pin("big:1")
    svc._conversion_done(h.digest(2), CONVERSION_OVERHEAD_SECONDS + 10.0, "success")  # 1e8 B/s observed
    assert svc.estimated_conversion_seconds("big:1") < before
    faster = svc.estimated_conversion_seconds("big:1")
    svc._conversion_done(h.digest(2), 1.0, "failure")
    assert svc.estimated_conversion_seconds("big:1") == faster
