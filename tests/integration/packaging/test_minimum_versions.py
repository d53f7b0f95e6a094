"""The wheel works with every runtime dependency at exactly its pyproject floor.

A fresh virtualenv gets ``name==floor`` for each ``name>=floor`` (transitive dependencies float, as they would
for a user), then the wheel without dependencies. Checked there: every module imports, and ``dualtrack serve``
with the in-memory backends answers health, takes a submission and runs it to SUCCEEDED (gRPC, protobuf
stubs, SQLAlchemy, alembic, APScheduler and typer at their floors). The floors venv is cached (see
floor_venv_dir): ~2.5 min on the first run, ~1 min after.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
IMPORT_ALL = """
import importlib, pkgutil, dualtrack
failed = []
for module in pkgutil.walk_packages(dualtrack.__path__, "dualtrack."):
    # __main__ modules run programs; alembic's env runs only inside alembic
    if module.name.endswith(("__main__", "migrations.env")):
        continue
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed.append(f"{module.name}: {error!r}")
print("\\n".join(failed))
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def floor_pins() -> list[str]:
    pins = []
    for requirement in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+(?:\[[^]]*\])?)>=([0-9.]+)(?:,.*)?", requirement)
        assert match, f"{requirement}: every runtime dependency needs a >= floor"
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def floor_venv_dir() -> Path:
    """The floors' virtualenv, kept between runs under $DUALTRACK_CI_CACHE (default /var/tmp/dualtrack-ci-cache)
    and keyed by the pins and the interpreter, so a rerun only reinstalls the wheel (~60 s -> ~10 s)."""
    key = hashlib.sha256("\n".join([sys.version, *floor_pins()]).encode()).hexdigest()[:16]
    return Path(os.environ.get("DUALTRACK_CI_CACHE", "/var/tmp/dualtrack-ci-cache")) / f"floor-venv-{key}"


@pytest.fixture(scope="module")
def floor_venv(built_wheel: Path) -> Iterator[Path]:
    venv = floor_venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others then reuse its venv
        if not (venv / "complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            argv = [str(venv / "bin" / "pip"), "install", "-q", "--only-binary", ":all:", *floor_pins()]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                pytest.fail(f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}")
            (venv / "complete").write_text("\n".join(floor_pins()))
        argv = [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall", str(built_wheel)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        yield venv  # the lock is held while this module's tests use the venv


def test_every_module_imports_at_the_floors(floor_venv: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(floor_venv / "bin" / "python"), "-c", IMPORT_ALL], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_serve_submit_and_finish_at_the_floors(floor_venv: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"address": address}, "metrics": {"port": None},
        "store": {"url": f"sqlite:///{tmp_path / 'jobs.sqlite'}"},
        "reconciler": {"intervalSeconds": 0.3, "retryBackoffSeconds": 0},
        "backends": [{"name": "kube-a", "kind": "inmemory",
                      "settings": {"track": "kubernetes", "nodes": 2, "gpusPerNode": 1, "runSeconds": 0.5}}],
    }))
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "floors", "tenant": "ci"},
        "spec": {"image": "busybox:1.36", "command": ["true"], "resources": {"workers": 1, "gpusPerWorker": 1}},
    }))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DUALTRACK_CONFIG")}
    env.update(DUALTRACK_ADDRESS=address, COLUMNS="200")
    cli = str(floor_venv / "bin" / "dualtrack")
    log = tmp_path / "broker.log"
    broker = subprocess.Popen([cli, "serve", "--config", str(config)], stdout=log.open("wb"),
                              stderr=subprocess.STDOUT, env=env, cwd=tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cli, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    try:
        deadline = time.monotonic() + 60
        while run("backends").returncode != 0:
            assert broker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        submitted = run("submit", str(job), "-o", "json")
        assert submitted.returncode == 0, submitted.stderr
        job_id = json.loads(submitted.stdout)["job"]["id"]
        waited = run("wait", job_id)
        assert waited.returncode == 0, waited.stdout + waited.stderr + log.read_text()[-3000:]
        assert json.loads(run("get", job_id, "-o", "json").stdout)["state"] == "SUCCEEDED"
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()
