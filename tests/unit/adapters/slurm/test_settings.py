from __future__ import annotations

import os
from typing import Any

import pytest

from dualtrack.adapters.slurm import from_config
from dualtrack.adapters.slurm.settings import DEFAULT_SIF_RUNNER, parse_settings


def test_defaults() -> None:
    s = parse_settings("slurm-a", {"container": {"imageDir": "/images"}})
    assert (s.transport, s.partition, s.qos, s.master_port) == ("cli", "gpu", None, 29500)
    assert s.container.runtime == "apptainer" and s.container.sif_runner == DEFAULT_SIF_RUNNER
    assert DEFAULT_SIF_RUNNER.endswith("adapters/slurm/sif-run")  # package data (a link in the checkout)
    assert os.access(DEFAULT_SIF_RUNNER, os.X_OK)


def test_full_settings_parse() -> None:
    s = parse_settings("slurm-a", {
        "transport": "ssh", "partition": "a100", "qos": "high", "accounts": {"vision": "acct_vision"},
        "gpuTypes": {"a100": "nvidia_a100"}, "outputDir": "/scratch/out", "slurmConf": "/etc/slurm/slurm.conf",
        "ssh": {"host": "login1", "port": 2222, "user": "svc", "identityFile": "/keys/id"},
        "container": {"runtime": "sif-bwrap", "imageDir": "/images", "binds": ["/scratch:/scratch"]},
        "datasets": {"coco": "/data/coco"}, "masterPort": 29600,
    })
    assert s.ssh is not None and (s.ssh.host, s.ssh.port, s.ssh.user) == ("login1", 2222, "svc")
    assert s.accounts == {"vision": "acct_vision"} and s.gpu_types == {"a100": "nvidia_a100"}
    assert s.container.binds == ("/scratch:/scratch",) and s.datasets == {"coco": "/data/coco"}


def test_paths_expand_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALTRACK_SLURM_DIR", "/var/tmp/dts")
    s = parse_settings("x", {"slurmConf": "${DUALTRACK_SLURM_DIR}/etc/slurm.conf", "container": {"runtime": "none"}})
    assert s.slurm_conf == "/var/tmp/dts/etc/slurm.conf"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"partition": "gpu; rm -rf /"}, "partition"),
        ({"partition": ""}, "partition"),
        ({"qos": "a b"}, "qos"),
        ({"accounts": {"vision": "$(id)"}}, "accounts.vision"),
        ({"gpuTypes": {"a100": "a100\n#SBATCH --x"}}, "gpuTypes.a100"),
        ({"transport": "pyslurm"}, "transport"),
        ({"transport": "ssh"}, "ssh"),
        ({"transport": "rest"}, "rest"),
        ({"rest": {"url": "http://h:1"}}, "rest.tokenFile"),
        ({"rest": {"url": "ftp://h", "token": "t"}}, "rest.url"),
        ({"rest": {"url": "http://h", "token": "t", "apiVersion": "v9"}}, "rest.apiVersion"),
        ({"ssh": {"port": 22}}, "ssh.host"),
        ({"ssh": {"host": "h", "port": 70000}}, "ssh.port"),
        ({"outputDir": "relative/dir"}, "outputDir"),
        ({"outputDir": "/tmp/with space"}, "outputDir"),
        ({"container": {"runtime": "docker"}}, "container.runtime"),
        ({"container": {"runtime": "apptainer"}}, "container.imageDir"),
        ({"container": {"runtime": "none", "binds": ["/a b"]}}, "container.binds[0]"),
        ({"masterPort": 80}, "masterPort"),
        ({"masterPort": True}, "masterPort"),
        ({"partitionn": "gpu"}, "partitionn"),
        ({"datasets": {"coco": "data/coco"}}, "datasets.coco"),
    ],
)
def test_bad_settings_name_the_key(raw: dict[str, Any], key: str) -> None:
    raw = {"container": {"runtime": "none"}, **raw}
    with pytest.raises(ValueError) as err:
        from_config("slurm-local", raw)
    assert str(err.value).startswith(f"backends[slurm-local].settings.{key}: "), str(err.value)


def test_the_shipped_example_config_builds() -> None:
    import yaml

    from .conftest import FIXTURES

    example = FIXTURES.parents[2] / "examples" / "config" / "slurm-local.yaml"
    (backend,) = yaml.safe_load(example.read_text())["backends"]
    assert (backend["name"], backend["kind"]) == ("slurm-local", "slurm")
    built = from_config(backend["name"], backend["settings"])
    assert built.settings.slurm_conf == "/var/tmp/dualtrack-slurm/etc/slurm.conf"
