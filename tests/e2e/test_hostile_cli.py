"""The CLI on hostile input and over mutual TLS: ``dualtrack validate`` reports problems without a traceback;
``--tls-ca/--tls-cert/--tls-key`` reach a broker that requires client certificates (docs/security.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO
from tests.inprocess import InProcessBroker
from tests.unit.api.certs import CertificateAuthority

HEAD = (REPO / "examples" / "yolo-1gpu.yaml").read_text()
HOSTILE = {
    "alias-bomb.yaml": HEAD + "x: &b " + "y" * 50_000 + "\nz: [" + ", ".join(["*b"] * 200) + "]\n",
    "duration-list.yaml": HEAD.replace("timeLimit: 30m", "timeLimit: [1, 2]"),
    "memory-inf.yaml": HEAD.replace("memoryPerWorker: 16Gi", "memoryPerWorker: .inf"),
    "binary.yaml": HEAD.replace("timeLimit: 30m", "timeLimit: !!binary aGVsbG8="),
    "long-int.yaml": HEAD.replace("priority: normal", "priority: " + "9" * 5000),
    "markup-image.yaml": HEAD.replace("image: ultralytics/ultralytics:8.3.40", "image: " + "[red]x[/]" * 600),
    "not-utf8.yaml": None,
}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dualtrack.broker.cli.main", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_validate_reports_hostile_files_without_a_traceback(tmp_path: Path) -> None:
    paths = []
    for name, text in HOSTILE.items():
        path = tmp_path / name
        if text is None:
            path.write_bytes(HEAD.encode() + b"\xff\xfe\n")
        else:
            path.write_text(text)
        paths.append(str(path))
    for path in paths:
        result = cli("validate", path)
        assert result.returncode == 2, (path, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
        assert len(result.stderr) < 4000, path


@pytest.fixture
def mtls_broker(tmp_path: Path) -> tuple[InProcessBroker, CertificateAuthority, Path]:
    ca = CertificateAuthority("cli test CA")
    cert, key = ca.issue("broker", server=True, sans=["localhost", "127.0.0.1"]).write(tmp_path, "server")
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = InProcessBroker(folder, {"server": {"tls": {"certFile": str(cert), "keyFile": str(key),
                                                          "clientCaFile": str(tmp_path / "ca.crt")}}}).start()
    yield broker, ca, tmp_path
    broker.stop()


def test_the_cli_talks_mutual_tls(mtls_broker: tuple[InProcessBroker, CertificateAuthority, Path]) -> None:
    broker, ca, folder = mtls_broker
    client_cert, client_key = ca.issue("vision-rnd").write(folder, "client")
    env = {"DUALTRACK_ADDRESS": broker.address}
    without = cli("list", env=env)
    assert without.returncode != 0 and "Traceback" not in without.stderr
    flags = ["--tls-ca", str(folder / "ca.crt"), "--tls-cert", str(client_cert), "--tls-key", str(client_key)]
    submitted = cli("submit", str(REPO / "examples" / "yolo-1gpu.yaml"), *flags, env=env)
    assert submitted.returncode == 0, submitted.stderr
    listed = cli("list", "-o", "json", env={**env, "DUALTRACK_TLS_CA": str(folder / "ca.crt"),
                                             "DUALTRACK_TLS_CERT": str(client_cert),
                                             "DUALTRACK_TLS_KEY": str(client_key)})
    assert listed.returncode == 0, listed.stderr
    assert [j["tenant"] for j in json.loads(listed.stdout)] == ["vision-rnd"]
