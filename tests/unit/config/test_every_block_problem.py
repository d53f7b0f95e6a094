"""Every problem inside the owned settings blocks (Slurm, Volcano, policies, images) is reported by one load of
the broker configuration, each with its full path (docs/configuration.md), through ``parse_config`` and through
``dualtrack serve``; ``${...}`` references are resolved inside those blocks before they are checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dualtrack.adapters.slurm.settings import parse_settings as slurm_settings
from dualtrack.adapters.volcano.settings import parse_settings as volcano_settings
from dualtrack.broker.cli.main import app
from dualtrack.broker.config import ConfigError, parse_config

MISTAKES: dict[str, Any] = {
    "policies": {"weights": {"capacity": 2}},                                   # not a score plugin
    "images": {"builder": "docker"},                                            # not a builder
    "backends": [
        {"name": "kube", "kind": "volcano", "settings": {"namespace": "Team_A"}},   # not a DNS-1123 label
        {"name": "hpc", "kind": "slurm", "settings": {
            "partition": "gpu; rm -rf /",                                       # unsafe in #SBATCH
            "masterPort": 80,                                                   # below 1024
            "container": {"runtime": "apptainer", "bind": ["/data"]},           # unknown key; imageDir missing
        }},
    ],
}
EXPECTED = {
    "policies.weights.capacity",
    "images.builder",
    "backends[0].settings.namespace",
    "backends[1].settings.partition",
    "backends[1].settings.masterPort",
    "backends[1].settings.container.bind",
}


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "broker.yaml")
    return {issue.path: issue.message for issue in caught.value.issues}


def test_every_mistake_of_every_block_is_reported_with_its_path() -> None:
    found = problems(MISTAKES)
    assert set(found) == EXPECTED, found
    assert found["backends[1].settings.partition"] == "'gpu; rm -rf /' is not a Slurm partition name"
    assert found["backends[1].settings.masterPort"] == "must be >= 1024"
    assert found["backends[1].settings.container.bind"].startswith("unknown key (known: binds, imageDir")
    assert found["images.builder"].startswith("must be one of auto, apptainer")
    assert found["policies.weights.capacity"].startswith("unknown score plugin")


def test_a_cross_field_rule_is_reported_at_its_key() -> None:
    found = problems({"backends": [{"name": "hpc", "kind": "slurm", "settings": {
        "transport": "rest", "rest": {"url": "https://slurm:6820"}, "container": {"runtime": "apptainer"}}}]})
    assert set(found) == {"backends[0].settings.rest.tokenFile", "backends[0].settings.container.imageDir"}


def test_serve_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broker.yaml"
    path.write_text(yaml.safe_dump(MISTAKES))
    result = CliRunner().invoke(app, ["serve", "--config", str(path)])
    assert result.exit_code == 2, result.output
    for key in EXPECTED:
        assert f"{key}:" in result.output, (key, result.output)


def test_references_inside_the_blocks_are_resolved_before_they_are_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "slurm-jwt"
    token.write_text("eyJhbGciOi.secret\n")
    monkeypatch.setenv("DUALTRACK_TEST_KUBECONFIG", "/var/run/secrets/remote/kubeconfig")
    config = parse_config({"backends": [
        {"name": "hpc", "kind": "slurm", "settings": {
            "transport": "rest", "rest": {"url": "https://slurm:6820", "token": f"${{file:{token}}}"},
            "container": {"runtime": "none"}}},
        {"name": "kube", "kind": "volcano", "settings": {"kubeconfig": "${DUALTRACK_TEST_KUBECONFIG}"}},
    ]})
    slurm = slurm_settings("hpc", config.backends[0].settings)
    assert slurm.rest is not None and slurm.rest.token == "eyJhbGciOi.secret"
    assert "secret" not in repr(slurm)  # a credential stays out of logs
    assert volcano_settings("kube", config.backends[1].settings).kubeconfig == "/var/run/secrets/remote/kubeconfig"


def test_a_resolved_value_is_still_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALTRACK_TEST_PARTITION", "a b")
    found = problems({"backends": [{"name": "hpc", "kind": "slurm", "settings": {
        "partition": "${DUALTRACK_TEST_PARTITION}", "container": {"runtime": "none"}}}]})
    assert found == {"backends[0].settings.partition": "'a b' is not a Slurm partition name"}


def test_an_unresolvable_reference_is_the_one_problem_of_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUALTRACK_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError) as caught:
        parse_config({"backends": [{"name": "hpc", "kind": "slurm", "settings": {
            "transport": "rest", "rest": {"url": "https://slurm:6820", "token": "${DUALTRACK_TEST_UNSET}"},
            "container": {"runtime": "none"}}}]})
    assert [str(i) for i in caught.value.issues] == [
        "backends[0].settings.rest.token: environment variable DUALTRACK_TEST_UNSET is not set"]
