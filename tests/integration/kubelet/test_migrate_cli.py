"""Must show, through the CLI against a broker with two Kubernetes backends (two process simulators):
``dualtrack migrate <id> --to kube-b --now`` stops the running attempt on kube-a (its container process is
killed) and attempt 2 runs to success on kube-b; ``dualtrack get`` / ``watch`` show each step's reason."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dualtrack.v1 import broker_pb2 as pb
from tests.integration.kubelet.process_sim import ProcessSim, start_process_sim, until
from tests.integration.lifecycle.cluster import REPO, Broker, Client, free_port

# attempt 1 (pod dt-<id>-1-worker-0) would run long: only the migration ends it; attempt 2 finishes
CMD = 'echo running; case "$HOSTNAME" in *-1-worker-*) sleep 300;; *) sleep 2;; esac; echo done'
SPEC = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "drain-me", "tenant": "ops"},
        "spec": {"image": "busybox:1.36", "command": ["bash", "-c", CMD],
                 "resources": {"workers": 1, "gpusPerWorker": 1, "cpusPerWorker": 1, "memoryPerWorker": "1Gi"},
                 "placement": {"backends": ["kube-a"]}, "timeLimit": "5m"}}


@pytest.fixture
def two_kubes(tmp_path: Path, bwrap: None) -> Iterator[tuple[ProcessSim, ProcessSim, Broker]]:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    sims = [start_process_sim(tmp_path / name) for name in ("a", "b")]
    backends = [{"name": f"kube-{n}", "kind": "volcano", "settings": {
        "kubeconfig": str(s.kubeconfig), "requestTimeoutSeconds": 10, "maxRetry": 1}}
        for n, s in zip("ab", sims, strict=True)]
    config = {"server": {"address": f"127.0.0.1:{free_port()}", "workers": 1}, "metrics": {"port": None},
              "store": {"url": f"sqlite:///{tmp_path / 'jobs.sqlite'}"},
              "reconciler": {"intervalSeconds": 0.5, "retryBackoffSeconds": 0, "missingGraceSeconds": 20},
              "backends": backends}
    broker = Broker(config, tmp_path)
    broker.start()
    try:
        yield sims[0], sims[1], broker
    finally:
        broker.stop()
        for sim in sims:
            sim.sim.stop()


def cli(broker: Broker, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dualtrack.broker.cli.main", *args, "--address", broker.address],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_migrate_now_moves_a_running_job_to_the_other_backend(two_kubes: tuple[ProcessSim, ProcessSim, Broker],
                                                              tmp_path: Path) -> None:
    kube_a, kube_b, broker = two_kubes
    spec = tmp_path / "drain-me.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    client = Client([broker.address])
    try:
        job_id = cli(broker, "submit", str(spec), "-o", "json")
        job_id = yaml.safe_load(job_id)["job"]["id"]
        until(lambda: (j := client.get(job_id)).state == pb.RUNNING and j.backend == "kube-a", 60, "RUNNING on kube-a")
        until(lambda: kube_a.sim.kubelet is not None and kube_a.sim.kubelet.running(), 30, "the process on kube-a")
        out = cli(broker, "migrate", job_id, "--to", "kube-b", "--now", "--reason", "draining kube-a")
        assert "migration from kube-a to kube-b requested (now)" in out
        done = until(lambda: (j := client.get(job_id)).state in (pb.SUCCEEDED, pb.FAILED) and j, 90, "the job to end")
        assert done.state == pb.SUCCEEDED and done.backend == "kube-b" and done.attempt == 2, done.reason
        assert kube_a.sim.kubelet is not None and kube_a.sim.kubelet.running() == []
        assert kube_b.core().read_namespaced_pod_log(f"dt-{job_id}-2-worker-0", "default") == "running\ndone\n"
        events = cli(broker, "watch", job_id, "--since", "1")
        assert "migration from kube-a to kube-b requested: draining kube-a; stopping it now" in events
        assert "migrating from kube-a to kube-b (draining kube-a): stopped at once (--now)" in events
        assert "attempt 2 on kube-b" in events
    finally:
        client.close()
