"""Exact artefacts from the CLI: ``dualtrack render`` writes the RenderJob artefact byte for byte (online and
offline with --config), every sbatch script passes ``bash -n``, and ``-o json|yaml`` on every data verb
parses back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dualtrack.client import Client
from tests.e2e.conftest import REPO, BrokerProcess
from tests.e2e.test_cli import THREE_MISTAKES

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
TRACKS = ("slurm", "kubernetes")


def real_backends() -> list[dict]:  # type: ignore[type-arg]
    """The Volcano and Slurm backends of examples/config (rendering is pure: neither cluster is needed)."""
    backends = []
    for name in ("slurm-local.yaml", "kube-local.yaml"):
        backends += yaml.safe_load((REPO / "examples/config" / name).read_text())["backends"]
    return backends


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> BrokerProcess:
    from tests.e2e.conftest import free_port, write_config

    folder = tmp_path_factory.mktemp("render")
    port = free_port()
    write_config(folder / "config.yaml", port, folder / "jobs.sqlite",
                 extra={"backends": real_backends(), "reconciler": {"enabled": False}})
    broker = BrokerProcess(f"127.0.0.1:{port}", folder / "config.yaml", folder / "broker.log")
    broker.start()
    yield broker  # type: ignore[misc]
    broker.stop()


def cli_bytes(broker: BrokerProcess, *args: str) -> bytes:
    """stdout of ``dualtrack ARGS`` as bytes, piped (not a terminal), as ``> file`` would get it."""
    import os

    result = subprocess.run([sys.executable, "-m", "dualtrack.broker.cli.main", *args], capture_output=True,
                            env={**os.environ, "DUALTRACK_ADDRESS": broker.address}, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_render_is_the_artefact_byte_for_byte(renderer: BrokerProcess, example: Path, tmp_path: Path) -> None:
    with Client(renderer.address) as client:
        for track in TRACKS:
            expected = client.render(example, track=track).artefact.encode()
            online = cli_bytes(renderer, "render", str(example), "-t", track)
            offline = cli_bytes(renderer, "render", str(example), "-t", track, "--config", str(renderer.config))
            assert online == expected, f"{example.name} on {track}: the CLI changed the artefact"
            assert offline == expected, f"{example.name} on {track}: offline render differs"
            target = tmp_path / f"{example.stem}.{track}"
            target.write_bytes(online)
            if track == "slurm":
                checked = subprocess.run(["bash", "-n", str(target)], capture_output=True, text=True)
                assert checked.returncode == 0, checked.stderr
                assert online.startswith(b"#!/bin/bash\n#SBATCH --job-name=dt-")
            else:
                assert yaml.safe_load(online)["kind"] == "Job"


def test_long_command_lines_are_never_wrapped(renderer: BrokerProcess) -> None:
    """The 4x2 example: its torchrun line (longer than any terminal) stays one line inside ``bash -c``, with
    every rendezvous flag."""
    script = cli_bytes(renderer, "render", str(REPO / "examples/yolo-4x2-gang.yaml"), "-t", "slurm").decode()
    launch = [line for line in script.splitlines() if "exec torchrun" in line]
    assert len(launch) == 1 and len(launch[0]) > 200
    for flag in ('--nnodes="$NNODES"', '--node-rank="$NODE_RANK"', '--master-addr="$MASTER_ADDR"',
                 '--master-port="$MASTER_PORT"', "/workspace/train_ddp.py"):
        assert flag in launch[0]


def test_render_json_and_yaml_carry_backend_kind_and_artefact(renderer: BrokerProcess) -> None:
    example = str(REPO / "examples/yolo-1gpu.yaml")
    as_json = json.loads(cli_bytes(renderer, "render", example, "-t", "slurm", "-o", "json"))
    as_yaml = yaml.safe_load(cli_bytes(renderer, "render", example, "-t", "slurm", "-o", "yaml"))
    assert as_json == as_yaml and as_json["kind"] == "slurm" and as_json["backend"] == "slurm-local"
    assert as_json["artefact"].encode() == cli_bytes(renderer, "render", example, "-t", "slurm")


def test_offline_render_needs_no_broker(tmp_path: Path) -> None:
    config = tmp_path / "broker.yaml"
    config.write_text(yaml.safe_dump({"backends": real_backends()}))
    result = subprocess.run([sys.executable, "-m", "dualtrack.broker.cli.main", "render",
                             str(REPO / "examples/command-job.yaml"), "--config", str(config)],
                            capture_output=True, env={"DUALTRACK_ADDRESS": "127.0.0.1:1", "PATH": "/usr/bin:/bin"},
                            cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"#!/bin/bash\n")  # command-job asks for the slurm track


# ---------------------------------------------------------------------------------------------- -o json|yaml
def both(broker: BrokerProcess, *args: str) -> object:
    """Run a verb with -o json and -o yaml; both must parse and agree (up to fields that change in time)."""
    as_json = json.loads(broker.cli(*args, "-o", "json", check=True).stdout)
    as_yaml = yaml.safe_load(broker.cli(*args, "-o", "yaml", check=True).stdout)
    assert type(as_json) is type(as_yaml)
    return as_json


def test_every_data_verb_speaks_json_and_yaml(make_broker: Callable[..., BrokerProcess], tmp_path: Path) -> None:
    broker = make_broker(run_seconds=0.2)
    example = str(REPO / "examples/yolo-1gpu.yaml")
    submitted = both(broker, "submit", example)
    job_id = submitted["job"]["id"]  # type: ignore[index]
    assert both(broker, "wait", job_id, "--timeout", "30")[0]["state"] == "SUCCEEDED"  # type: ignore[index]
    assert both(broker, "get", job_id)["id"] == job_id  # type: ignore[index]
    assert {j["id"] for j in both(broker, "list")} >= {job_id}  # type: ignore[union-attr]
    assert {b["name"] for b in both(broker, "backends")} == {"slurm-a", "kube-a"}  # type: ignore[union-attr]
    assert both(broker, "explain", example)["status"] == "OK"  # type: ignore[index]
    assert both(broker, "cancel", job_id)["state"] == "SUCCEEDED"  # type: ignore[index]
    assert both(broker, "render", example, "-t", "kubernetes")["backend"] == "kube-a"  # type: ignore[index]
    assert both(broker, "validate", example)[0]["valid"] is True  # type: ignore[index]
    events = broker.cli("watch", job_id, "-o", "json", check=True).stdout.splitlines()
    assert [json.loads(line)["state"] for line in events][-1] == "SUCCEEDED"
    documents = list(yaml.safe_load_all(broker.cli("watch", job_id, "-o", "yaml", check=True).stdout))
    assert [d["seq"] for d in documents] == [json.loads(line)["seq"] for line in events]


# ---------------------------------------------------------------------------------------------- bulk submit
def test_submit_a_folder_in_one_call(broker: BrokerProcess, tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    folder.mkdir()
    for example in EXAMPLES:
        shutil.copy(example, folder / example.name)
    (folder / "zz-bad.yaml").write_text(THREE_MISTAKES)
    result = broker.cli("submit", str(folder), "-o", "json")
    assert result.returncode == 2  # one invalid spec; the others are stored regardless
    rows = json.loads(result.stdout)
    assert [r["file"].rsplit("/", 1)[1] for r in rows] == [e.name for e in EXAMPLES] + ["zz-bad.yaml"]
    assert rows[-1]["error"]["code"] == "INVALID_ARGUMENT" and len(rows[-1]["error"]["details"]) == 3
    stored = {j["id"] for j in json.loads(broker.cli("list", "-o", "json", check=True).stdout)}
    assert stored == {r["job"]["id"] for r in rows[:-1]}
    again = broker.cli("submit", *(str(folder / e.name) for e in EXAMPLES[:2]), "--idempotency-key", "s1")
    assert again.returncode == 0 and again.stdout.count(": submitted ") == 2 and "2 of 2 submitted" in again.stdout


# ---------------------------------------------------------------------------------------------- completion
def complete(broker: BrokerProcess, words: str) -> list[str]:
    """What bash completion offers for ``words`` (typer's completion protocol, as the installed script asks)."""
    import os

    env = {**os.environ, "DUALTRACK_ADDRESS": broker.address, "_DUALTRACK_COMPLETE": "complete_bash",
           "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    result = subprocess.run([str(Path(sys.executable).parent / "dualtrack")], capture_output=True, text=True,
                            env=env, timeout=30)
    return result.stdout.split()


def test_completion_offers_job_ids_and_backend_names(broker: BrokerProcess) -> None:
    with Client(broker.address) as client:
        job = client.submit(REPO / "examples/yolo-1gpu.yaml").job
    assert job.id in complete(broker, f"dualtrack get {job.id[:3]}")
    assert complete(broker, "dualtrack list --backend slu") == ["slurm-a"]
    assert "render" in complete(broker, "dualtrack ren")
    script = subprocess.run([str(Path(sys.executable).parent / "dualtrack"), "--show-completion", "bash"],
                            capture_output=True, text=True, timeout=30)
    assert "_DUALTRACK_COMPLETE" in script.stdout or "complete_bash" in script.stdout
