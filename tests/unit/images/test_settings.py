from __future__ import annotations

from pathlib import Path

import pytest

from dualtrack.broker.images.settings import DEFAULT_MAX_BYTES, ImageSettings


def test_defaults_from_nothing() -> None:
    assert ImageSettings.from_mapping(None) == ImageSettings.from_mapping({})
    assert ImageSettings.from_mapping({}).max_bytes == DEFAULT_MAX_BYTES
    assert ImageSettings.from_mapping({}).builder == "auto"


def test_every_key() -> None:
    s = ImageSettings.from_mapping(
        {
            "cacheDir": "/shared/sif",
            "maxBytes": "2Gi",
            "builder": "skopeo-umoci",
            "inspectTimeoutSeconds": 3,
            "mirrors": {"docker.io/": "mirror.local:5000/hub/"},
            "sources": {"app:1": "oci:/srv/app:1", "b:2": "docker-archive:/srv/b.tar"},
            "workDir": "/var/tmp",
            "conversionBytesPerSecond": 1e8,
        }
    )
    assert s.cache_dir == Path("/shared/sif") and s.work_dir == Path("/var/tmp")
    assert s.max_bytes == 2 * 1024**3 and s.builder == "skopeo-umoci" and s.inspect_timeout_seconds == 3.0
    assert s.mirrors == {"docker.io/": "mirror.local:5000/hub/"}
    assert s.sources["b:2"] == "docker-archive:/srv/b.tar" and s.conversion_bytes_per_second == 1e8
    assert ImageSettings.from_mapping({"maxBytes": 1234}).max_bytes == 1234


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"cachedir": "/x"}, r"images\.cachedir: unknown key"),
        ({"builder": "docker"}, r"images\.builder: must be one of auto, .* \(got 'docker'\)"),
        ({"maxBytes": "lots"}, r"images\.maxBytes: 'lots' is not a byte size"),
        ({"maxBytes": -5}, r"images\.maxBytes: must be > 0"),
        ({"maxBytes": True}, r"images\.maxBytes"),
        ({"inspectTimeoutSeconds": 0}, r"images\.inspectTimeoutSeconds: must be a positive number"),
        ({"sources": {"app:1": "/srv/app"}}, r"images\.sources\.app:1: '/srv/app' must be oci:"),
        ({"sources": {"app:1": "docker://x"}}, r"images\.sources\.app:1"),
        ({"mirrors": ["a"]}, r"images\.mirrors: must be a mapping"),
        ({"mirrors": {"a": ""}}, r"images\.mirrors\.a"),
        ({"cacheDir": 5}, r"images\.cacheDir: must be a non-empty path"),
    ],
)
def test_bad_values_name_the_key(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImageSettings.from_mapping(mapping)


def test_not_a_mapping() -> None:
    with pytest.raises(ValueError, match="images: must be a mapping"):
        ImageSettings.from_mapping(["x"])  # type: ignore[arg-type]
