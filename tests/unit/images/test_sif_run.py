"""Pure parts of scripts/images/sif-run: its SIF reader, environment rules and argument checks."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "images" / "sif-run"


@pytest.fixture(scope="module")
def sif_run() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("sif_run", str(SCRIPT))
    spec = importlib.util.spec_from_loader("sif_run", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sif_run"] = module  # dataclasses look their module up while the script loads
    loader.exec_module(module)
    return module


def synthetic_sif(path: Path, parttype: int = 2, fstype: int = 1, config: Mapping[str, object] | None = None) -> None:
    """A SIF laid out as siftool writes it: header, 48 descriptors at 4096, data after."""
    header = struct.Struct("<32s10s3s3s16s8q")
    desc = struct.Struct("<i?IIIqqqqqqq128s384s")
    squash = b"hsqs" + b"\0" * 100
    conf = json.dumps(config or {}).encode()
    descriptors = [
        desc.pack(0x4004, True, 1, 0xF0000001, 0, 32768, len(squash), len(squash), 0, 0, 0, 0, b"",
                  struct.pack("<ii3s", fstype, parttype, b"02")),
        desc.pack(0x4006, True, 2, 0, 0, 32768 + len(squash), len(conf), len(conf), 0, 0, 0, 0, b"oci-config.json",
                  b""),
    ]  # fmt: skip
    blob = bytearray(32768 + len(squash) + len(conf))
    blob[0:128] = header.pack(b"", b"SIF_MAGIC", b"01", b"02", b"\0" * 16, 0, 0, 46, 48, 4096, 2 * 585, 32768, 0)
    for i, d in enumerate(descriptors):
        blob[4096 + i * 585 : 4096 + (i + 1) * 585] = d
    blob[32768 : 32768 + len(squash)] = squash
    blob[32768 + len(squash) :] = conf
    path.write_bytes(bytes(blob))


def test_reads_the_primary_partition_and_workdir(sif_run: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "a.sif"
    synthetic_sif(path, config={"WorkingDir": "/work", "Env": ["A=1"]})
    image = sif_run.read_sif(str(path))
    assert (image.partition_offset, image.partition_size) == (32768, 104)
    assert image.oci_config["WorkingDir"] == "/work"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"parttype": 1}, "no primary system partition"), ({"fstype": 2}, "not squashfs")],
)
def test_rejects_what_it_cannot_run(sif_run: ModuleType, tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    path = tmp_path / "a.sif"
    synthetic_sif(path, **kwargs)
    with pytest.raises(sif_run.SifError, match=message):
        sif_run.read_sif(str(path))
    path.write_bytes(b"#!/bin/sh\n" + b"\0" * 200)
    with pytest.raises(sif_run.SifError, match="not a SIF file"):
        sif_run.read_sif(str(path))


def test_environment_rules(sif_run: ModuleType) -> None:
    host = {
        "PATH": "/host/bin", "LD_PRELOAD": "x.so", "SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "0,1",
        "MASTER_ADDR": "n1", "WORLD_SIZE": "2", "JOB_SETTING": "j", "APPTAINERENV_FOO": "a", "SINGULARITYENV_FOO": "s",
    }  # fmt: skip
    env = sif_run.container_env(host, ["BAR=x=y"], clean=False)
    assert env["PATH"] == sif_run.CONTAINER_PATH and "LD_PRELOAD" not in env
    assert env["SLURM_JOB_ID"] == "7" and env["CUDA_VISIBLE_DEVICES"] == "0,1" and env["JOB_SETTING"] == "j"
    assert env["FOO"] == "a" and env["BAR"] == "x=y" and "APPTAINERENV_FOO" not in env
    clean = sif_run.container_env(host, [], clean=True)
    assert "JOB_SETTING" not in clean and clean["MASTER_ADDR"] == "n1" and clean["WORLD_SIZE"] == "2"
    assert clean["FOO"] == "a"
    with pytest.raises(ValueError, match="NAME=VALUE"):
        sif_run.container_env({}, ["novalue"], clean=False)


def test_arguments(sif_run: ModuleType, tmp_path: Path) -> None:
    args = sif_run.parse_args(["a.sif", "--bind", f"{tmp_path}:/data:ro", "--pwd", "/w", "--", "cmd", "--bind", "x"])
    assert args.command == ["cmd", "--bind", "x"] and args.pwd == "/w"
    assert sif_run.parse_bind(f"{tmp_path}:/data:ro") == (str(tmp_path), "/data", True)
    assert sif_run.parse_bind(str(tmp_path)) == (str(tmp_path), str(tmp_path), False)
    for bad, message in [(f"{tmp_path}:rel", "absolute"), (f"{tmp_path}:/d:rx", "ro or rw"), ("/no/such:/d", "exist")]:
        with pytest.raises(ValueError, match=message):
            sif_run.parse_bind(bad)
    with pytest.raises(ValueError, match="missing '--'"):
        sif_run.parse_args(["a.sif", "cmd"])
    with pytest.raises(ValueError, match="no command"):
        sif_run.parse_args(["a.sif", "--"])
    with pytest.raises(ValueError, match="--pwd 'rel': must be an absolute path"):
        sif_run.parse_args(["a.sif", "--pwd", "rel", "--", "true"])
    argv = sif_run.bwrap_argv("/r", [(str(tmp_path), "/data", True)], "/w", ["python", "-V"])
    assert argv[-4:] == ["--", "/.singularity.d/actions/exec", "python", "-V"]
    assert ["--ro-bind", str(tmp_path), "/data"] == argv[argv.index(str(tmp_path)) - 1 : argv.index(str(tmp_path)) + 2]
