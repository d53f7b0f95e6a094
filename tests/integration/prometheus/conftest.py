"""Fixtures for the Prometheus integration tests: a broker serving /metrics and a real Prometheus scraping it.

Needs Debian's ``prometheus`` binary (``scripts/prometheus/install.sh``); skips with a message without it.
Each test session gets its own Prometheus (own port and data directory under pytest's tmp_path), started
and stopped by scripts/prometheus/start.sh and stop.sh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .prom_api import BrokerUnderTest, Prometheus, free_port

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "scripts" / "prometheus"
DRIVER = Path(__file__).with_name("activity_driver.py")


@pytest.fixture(scope="module", params=["serve", "driver"])
def broker_under_test(request: pytest.FixtureRequest,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    """The real broker fed with jobs over gRPC, then the activity driver (see their modules)."""
    if request.param == "serve":
        yield from _real_broker(tmp_path_factory.mktemp("serve"))
    else:
        yield from _activity_driver()


def _real_broker(workdir: Path) -> Iterator[BrokerUnderTest]:
    from .broker_process import COMMAND_SPEC, SPEC, JobFeeder, start_serve

    with _local_clusters(workdir) as backends:
        try:
            serve = start_serve(workdir, backends) if backends else start_serve(workdir)
        except RuntimeError as error:
            pytest.fail(str(error))
        feeder = JobFeeder(serve.grpc_address, spec=COMMAND_SPEC if backends else SPEC).start()
        try:
            yield BrokerUnderTest(serve.metrics_target, "serve")
        finally:
            feeder.stop()
            serve.stop()


@contextlib.contextmanager
def _local_clusters(workdir: Path) -> Iterator[str | None]:
    """Backends YAML for the real Slurm cluster (when scripts/slurm/status.sh says it is up) and a private
    Kubernetes API simulator started here; None when the Slurm cluster is not running."""
    slurm_dir = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm"))
    if subprocess.run([str(REPO / "scripts" / "slurm" / "status.sh")], capture_output=True).returncode != 0:
        yield None
        return
    env = {**os.environ, "DUALTRACK_KUBESIM_DIR": str(workdir / "kubesim"), "DUALTRACK_KUBESIM_PORT": str(free_port())}
    started = subprocess.run([str(REPO / "scripts" / "kubesim" / "start.sh"), "--run-seconds", "3"], env=env,
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        pytest.fail(f"scripts/kubesim/start.sh failed: {started.stdout}{started.stderr}")
    try:
        yield f"""  - name: slurm-local
    kind: slurm
    settings: {{slurmConf: {slurm_dir}/etc/slurm.conf, outputDir: {slurm_dir}/output, container: {{runtime: none}}}}
  - name: kube-local
    kind: volcano
    settings: {{kubeconfig: {workdir}/kubesim/kubeconfig}}
"""
    finally:
        subprocess.run([str(REPO / "scripts" / "kubesim" / "stop.sh")], env=env, timeout=60)


def _activity_driver() -> Iterator[BrokerUnderTest]:
    process = subprocess.Popen([sys.executable, str(DRIVER), "--port", "0"], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"activity driver did not start: {line!r} {err}")
        yield BrokerUnderTest(f"127.0.0.1:{int(line.split()[1])}", "driver")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def prometheus(
    broker_under_test: BrokerUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    if shutil.which("prometheus") is None:
        pytest.skip("Debian's prometheus binary is not installed (scripts/prometheus/install.sh)")
    env = {**os.environ, "DUALTRACK_PROM_DIR": str(tmp_path_factory.mktemp("prom")),
           "DUALTRACK_PROM_PORT": str(free_port())}
    started = subprocess.run([str(SCRIPTS / "start.sh"), broker_under_test.metrics_target], env=env,
                             capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        subprocess.run([str(SCRIPTS / "stop.sh")], env=env, timeout=60)
        pytest.fail(f"scripts/prometheus/start.sh failed: {started.stdout}{started.stderr}")
    try:
        yield Prometheus(started.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run([str(SCRIPTS / "stop.sh")], env=env, timeout=60)
