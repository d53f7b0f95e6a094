"""Builds backend adapters from configuration into an explicit registry (no import-time globals).

``FACTORIES`` maps a backend ``kind`` to the module that builds it; the module is imported only when a
backend of that kind is configured, so a broker without Slurm never imports the Slurm adapter.
Each factory module exposes ``from_config(name: str, settings: Mapping[str, Any]) -> Backend`` and raises
``ValueError`` naming the offending setting.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from dualtrack.adapters.base import Backend

FACTORIES: Mapping[str, str] = {
    "slurm": "dualtrack.adapters.slurm",
    "volcano": "dualtrack.adapters.volcano",
    "inmemory": "dualtrack.adapters.inmemory",
}


def build_backend(name: str, kind: str, settings: Mapping[str, Any]) -> Backend:
    """Build one backend. Raises ValueError for an unknown kind or bad settings."""
    module_name = FACTORIES.get(kind)
    if module_name is None:
        raise ValueError(f"backends[{name}].kind: {kind!r} is not one of {', '.join(sorted(FACTORIES))}")
    module = importlib.import_module(module_name)
    backend: Backend = module.from_config(name, settings)
    return backend


class BackendRegistry:
    """The configured backends by name, in configuration order."""

    def __init__(self, backends: Mapping[str, Backend] | None = None):
        self._backends: dict[str, Backend] = dict(backends or {})

    def add(self, backend: Backend) -> None:
        if backend.name in self._backends:
            raise ValueError(f"backend {backend.name!r} is configured twice")
        self._backends[backend.name] = backend

    def get(self, name: str) -> Backend:
        """Raises KeyError with the known names when ``name`` is not configured."""
        try:
            return self._backends[name]
        except KeyError:
            raise KeyError(f"no backend named {name!r}; configured: {', '.join(self._backends)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._backends

    def __iter__(self) -> Iterator[Backend]:
        return iter(self._backends.values())

    def __len__(self) -> int:
        return len(self._backends)

    def names(self) -> list[str]:
        return list(self._backends)

    def close(self) -> None:
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if callable(close):
                close()
