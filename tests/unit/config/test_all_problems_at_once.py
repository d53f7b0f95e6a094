"""One load of the broker configuration reports every problem of every block, each with its path
(docs/configuration.md): the broker's own sections, ``policies``, ``images``, each backend's settings and
unresolvable ``${...}`` references."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualtrack.broker.config import ConfigError, parse_config
from dualtrack.broker.config_refs import resolve_references


def problems(data: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "test.yaml")
    return {issue.path: issue.message for issue in caught.value.issues}


def test_three_mistakes_in_three_blocks_are_all_reported() -> None:
    found = problems({
        "reconciler": {"intervalSeconds": 0},                                   # broker section (pydantic)
        "policies": {"weights": {"dataLocality": -1}},                          # policies/config.py
        "backends": [{"name": "hpc", "kind": "slurm", "settings": {"transport": "carrier-pigeon",
                                                                 "container": {"runtime": "none"}}}],  # Slurm
    })
    assert set(found) == {"reconciler.intervalSeconds", "policies.weights.dataLocality",
                          "backends[0].settings.transport"}, found


def test_volcano_images_and_unknown_keys_are_reported_together() -> None:
    found = problems({
        "server": {"listen": "0.0.0.0:1"},
        "images": {"maxBytes": "lots"},
        "backends": [{"name": "k", "kind": "volcano", "settings": {"inCluster": True, "kubeconfig": "/k"}}],
    })
    assert "server.listen" in found
    assert "images.maxBytes" in found
    assert found["backends[0].settings.inCluster"] == "cannot be combined with kubeconfig", found


def test_a_valid_configuration_still_loads() -> None:
    config = parse_config({"policies": {"weights": {"dataLocality": 2}},
                           "backends": [{"name": "a", "kind": "inmemory", "settings": {"track": "slurm"}}]})
    assert config.backends[0].name == "a"


def test_environment_and_file_references_are_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("postgresql+psycopg://u:p@db/dt\n")
    data, issues = resolve_references(
        {"store": {"url": f"${{file:{secret}}}"}, "x": ["a-${NAME}-b", "$${literal}"]}, {"NAME": "value"})
    assert issues == []
    assert data == {"store": {"url": "postgresql+psycopg://u:p@db/dt"}, "x": ["a-value-b", "${literal}"]}


def test_unresolvable_references_are_reported_with_their_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUALTRACK_TEST_UNSET", raising=False)
    found = problems({"store": {"url": "${DUALTRACK_TEST_UNSET}"},
                      "backends": [{"name": "a", "kind": "inmemory",
                                    "settings": {"gpuType": f"${{file:{tmp_path / 'absent'}}}"}}]})
    assert found["store.url"] == "environment variable DUALTRACK_TEST_UNSET is not set"
    assert found["backends[0].settings.gpuType"].startswith("cannot read")
