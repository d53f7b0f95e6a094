"""Must show, on the Kubernetes track with the process kubelet, through the broker: a 2-worker command gang
rendezvouses over TCP at the address the Volcano adapter gives it and succeeds, with both outputs in
``kubectl logs``; a worker exiting 3 fails the job with exit code 3; a job over its time limit is killed
(its processes are gone) and fails with the time-limit reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from dualtrack.v1 import broker_pb2 as pb
from tests.integration.kubelet.process_sim import ProcessSim, processes_with, until
from tests.integration.lifecycle.cluster import Client

RENDEZVOUS = (Path(__file__).parent / "rendezvous.py").read_text()
TERMINAL = (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED)


def spec(name: str, command: list[str], *, workers: int = 2, time_limit: str = "5m") -> str:
    return yaml.safe_dump({
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": name, "tenant": "kubelet"},
        "spec": {"image": "busybox:1.36", "command": command,
                 "resources": {"workers": workers, "gpusPerWorker": 1, "cpusPerWorker": 1, "memoryPerWorker": "1Gi"},
                 "placement": {"track": "kubernetes"}, "timeLimit": time_limit}})


def finished(client: Client, job_id: str, timeout: float = 150.0) -> pb.Job:
    return until(lambda: (j := client.get(job_id)).state in TERMINAL and j, timeout, f"job {job_id} to finish")


def kubectl_logs(sim: ProcessSim, pod: str) -> str:
    """``kubectl logs`` where kubectl is installed, else the official client's read_namespaced_pod_log (the
    same endpoint)."""
    if shutil.which("kubectl") is None:
        return str(sim.core().read_namespaced_pod_log(pod, "default"))
    done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), "logs", pod, "-n", "default"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_two_worker_gang_rendezvouses_over_tcp_and_succeeds(kube_broker: Client, process_sim: ProcessSim) -> None:
    job_id = kube_broker.submit(spec("rendezvous", ["python3", "-c", RENDEZVOUS]), "rendezvous").job.id
    job = finished(kube_broker, job_id)
    assert job.state == pb.SUCCEEDED, job.reason
    assert job.track == "kubernetes"
    logs = [kubectl_logs(process_sim, f"{job.object_name}-worker-{i}") for i in range(2)]
    address = f"{job.object_name}-worker-0.{job.object_name}:"
    assert f"rank=0 world_size=2 rendezvous={address}" in logs[0]
    assert f"rank=1 world_size=2 rendezvous={address}" in logs[1]
    assert "rank 0 heard from rank 1" in logs[0]
    assert "rank 1 connected to rank 0: welcome from rank 0" in logs[1]
    client_log = process_sim.core().read_namespaced_pod_log(f"{job.object_name}-worker-1", "default")
    assert client_log == logs[1]


def test_a_worker_exiting_3_fails_the_job_with_exit_code_3(kube_broker: Client) -> None:
    command = ["bash", "-c", 'echo "rank $NODE_RANK"; if [ "$NODE_RANK" = 1 ]; then exit 3; fi; sleep 120']
    job = finished(kube_broker, kube_broker.submit(spec("exit-three", command), "exit-three").job.id)
    assert job.state == pb.FAILED
    assert job.exit_code == 3, job.reason
    assert "exited with code 3" in job.reason


def test_a_job_over_its_time_limit_is_killed_with_the_time_limit_reason(kube_broker: Client) -> None:
    token = "kubelet-time-limit-7f3a"
    command = ["bash", "-c", f"echo started; sleep 300 # {token}"]
    job = finished(kube_broker, kube_broker.submit(spec("too-long", command, workers=1, time_limit="3s"),
                                                   "too-long").job.id)
    assert job.state == pb.FAILED
    assert "DeadlineExceeded" in job.reason, job.reason
    until(lambda: not processes_with(token), 30, "the container's processes to be killed")
