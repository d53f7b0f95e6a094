"""docs/configuration.md names every key of the broker's own sections and of every settings block (found from
the pydantic models, nested blocks included)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from dualtrack.adapters.inmemory.settings import InMemorySettings
from dualtrack.adapters.slurm.settings import SlurmSettings
from dualtrack.adapters.volcano.settings import VolcanoSettings
from dualtrack.broker.config import BrokerConfig
from dualtrack.broker.images.settings import ImageSettings
from dualtrack.policies.config_model import PolicySettings
from dualtrack.sim.kubeapi.config_model import ClusterFile

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"
BLOCKS: dict[str, type[BaseModel]] = {
    "": BrokerConfig, "backends[slurm].settings.": SlurmSettings, "backends[volcano].settings.": VolcanoSettings,
    "backends[inmemory].settings.": InMemorySettings, "policies.": PolicySettings, "images.": ImageSettings,
    "kubesim.": ClusterFile,
}


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models inside an annotation (``X | None``, ``list[X]``, ``dict[str, X]``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    found = set()
    for name, field in model.model_fields.items():
        key = field.alias or name
        found.add(f"{prefix}{key}")
        for inner in _models(field.annotation):
            found |= keys(inner, f"{prefix}{key}.")
    return found


def undocumented(text: str) -> list[str]:
    every = {k for prefix, model in BLOCKS.items() for k in keys(model, prefix)}
    return sorted(k for k in every if f"`{k.rsplit('.', 1)[-1]}`" not in text)


def test_every_key_is_documented() -> None:
    assert undocumented(DOC.read_text()) == []


@pytest.mark.parametrize("key", ["reconciler.intervalSeconds", "backends[slurm].settings.rest.tokenFile",
                                 "policies.queueAfterSeconds", "kubesim.kubelet.gracePeriodSeconds"])
def test_a_missing_key_is_noticed(key: str) -> None:
    name = key.rsplit(".", 1)[-1]
    assert key in undocumented(DOC.read_text().replace(f"`{name}`", ""))


@pytest.mark.parametrize("key", ["missingGraceSeconds", "timeLimitGraceSeconds", "defaultPendingTimeout",
                                 "startEstimateJobs", "tokens", "maxWorkers", "groupCommitMax"])
def test_the_once_undocumented_keys_are_there(key: str) -> None:
    assert f"`{key}`" in DOC.read_text()
