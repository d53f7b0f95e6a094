"""Reading an OCI image layout (``index.json`` -> manifest -> config blob) without any tool.

``image_config(layout, tag, image)`` returns the image's config object (the ``config`` member of the OCI image
config: Env, Entrypoint, Cmd, WorkingDir, Labels, ...) and its architecture. Raises ConversionFailed naming
the file that is missing or malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dualtrack.broker.images.errors import ConversionFailed

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class ImageConfig:
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    architecture: str = "amd64"
    raw: dict[str, Any] = field(default_factory=dict)  # the whole ``config`` member, as the image has it


def image_config(layout: Path, tag: str, image: str) -> ImageConfig:
    """The config of the image tagged ``tag`` in the OCI layout at ``layout`` (see module docstring)."""
    index = _json(layout / "index.json", image)
    manifests = [m for m in index.get("manifests", []) if m.get("annotations", {}).get(REF_NAME) == tag]
    if len(manifests) != 1:
        raise ConversionFailed(image, f"{layout}/index.json has {len(manifests)} manifests tagged {tag!r}")
    manifest = _json(_blob(layout, manifests[0].get("digest"), image), image)
    config_digest = manifest.get("config", {}).get("digest")
    document = _json(_blob(layout, config_digest, image), image)
    config = document.get("config") or {}
    return ImageConfig(
        env=tuple(config.get("Env") or ()),
        entrypoint=tuple(config.get("Entrypoint") or ()),
        cmd=tuple(config.get("Cmd") or ()),
        working_dir=str(config.get("WorkingDir") or ""),
        labels=dict(config.get("Labels") or {}),
        architecture=str(document.get("architecture") or "amd64"),
        raw=dict(config),
    )


def _blob(layout: Path, digest: object, image: str) -> Path:
    if not isinstance(digest, str) or ":" not in digest:
        raise ConversionFailed(image, f"{layout} refers to a blob without a digest ({digest!r})")
    algorithm, _, hexpart = digest.partition(":")
    return layout / "blobs" / algorithm / hexpart


def _json(path: Path, image: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConversionFailed(image, f"{path} is missing from the OCI layout") from None
    except (OSError, ValueError) as e:
        raise ConversionFailed(image, f"{path} is not readable JSON ({e})") from None
    if not isinstance(value, dict):
        raise ConversionFailed(image, f"{path} is not a JSON object")
    return value
