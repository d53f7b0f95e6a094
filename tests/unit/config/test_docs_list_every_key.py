"""docs/configuration.md names every key of the broker's own sections (found from the pydantic models)."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel

from dualtrack.broker.config import BrokerConfig

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    found = set()
    for name, field in model.model_fields.items():
        key = field.alias or name
        found.add(f"{prefix}{key}")
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                found |= keys(arg, f"{prefix}{key}.")
    return found


def undocumented(text: str) -> list[str]:
    return sorted(k for k in keys(BrokerConfig) if f"`{k.rsplit('.', 1)[-1]}`" not in text)


def test_every_broker_key_is_documented() -> None:
    assert undocumented(DOC.read_text()) == []


def test_a_missing_key_is_noticed() -> None:
    assert "reconciler.intervalSeconds" in undocumented(DOC.read_text().replace("`intervalSeconds`", ""))
