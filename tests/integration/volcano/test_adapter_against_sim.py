"""Issue 4 "Must show", through the official kubernetes client (the adapter) against the API simulator."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from dualtrack.adapters.base import SubmitRejected
from dualtrack.broker.domain import BackendPhase, FailureKind, Placement

from .conftest import Sim, make_job, wait_for

pytestmark = pytest.mark.slow


def _observe(backend, ref):  # type: ignore[no-untyped-def]
    return backend.observe([ref])[ref]


def test_gang_with_too_few_free_gpus_stays_pending_with_reason_then_runs(small_sim: Sim) -> None:
    small_sim.script("*", run_seconds=3600)
    backend = small_sim.backend()
    blocker = backend.submit(make_job("blocker", gpus=1), Placement("kube-test"))
    wait_for(lambda: _observe(backend, blocker).phase is BackendPhase.RUNNING, "the blocker to run")
    assert backend.snapshot().gpus_free == 3

    gang = backend.submit(make_job("gang", workers=4, gpus=1), Placement("kube-test"))
    pending = wait_for(lambda: (o := _observe(backend, gang)).reason and o, "an Unschedulable reason")
    assert pending.phase is BackendPhase.PENDING
    assert "Unschedulable" in pending.reason
    assert "3 nvidia.com/gpu free" in pending.reason and "gang needs 4" in pending.reason
    snap = backend.snapshot()
    assert snap.pool("default") is not None and snap.pool("default").pending_gpus == 4  # type: ignore[union-attr]

    backend.cancel(blocker)  # a GPU frees up
    running = wait_for(lambda: (o := _observe(backend, gang)).phase is BackendPhase.RUNNING and o, "the gang")
    assert running.nodes == ("gpu-1",)
    assert backend.snapshot().gpus_free == 0


def test_eight_gpu_one_node_job_runs_and_completes(sim: Sim) -> None:
    sim.script("dt-*", run_seconds=1.0)
    backend = sim.backend()
    job = make_job("eight", workers=1, gpus=8, topology={"tier": "node", "mode": "hard"})
    ref = backend.submit(job, Placement("kube-test"))
    assert backend.submit(job, Placement("kube-test")) == ref  # idempotent per (id, attempt)
    running = wait_for(lambda: (o := _observe(backend, ref)).phase is not BackendPhase.PENDING and o, "start")
    assert running.phase in (BackendPhase.RUNNING, BackendPhase.SUCCEEDED)
    done = wait_for(lambda: (o := _observe(backend, ref)).phase is BackendPhase.SUCCEEDED and o, "completion")
    assert done.native_state == "Completed"
    assert done.exit_code == 0
    assert len(done.nodes) == 1
    assert [m.job_id for m in backend.managed()] == [job.id]


def test_cancel_deletes_the_vcjob_and_is_idempotent(sim: Sim) -> None:
    backend = sim.backend()
    ref = backend.submit(make_job("to-cancel", workers=2, gpus=2), Placement("kube-test"))
    wait_for(lambda: _observe(backend, ref).phase is BackendPhase.RUNNING, "running")
    backend.cancel(ref)
    backend.cancel(ref)
    observed = _observe(backend, ref)
    assert observed.phase is BackendPhase.MISSING
    assert backend.managed() == []
    wait_for(lambda: backend.snapshot().gpus_free == 32, "the GPUs to come back")


def test_failing_pod_is_failed_with_reason_after_in_place_restarts(sim: Sim) -> None:
    sim.script("dt-*", run_seconds=0.3, exit_code=3)
    backend = sim.backend(maxRetry=2)
    ref = backend.submit(make_job("fails"), Placement("kube-test"))
    failed = wait_for(lambda: (o := _observe(backend, ref)).phase is BackendPhase.FAILED and o, "failure")
    assert failed.failure is FailureKind.USER
    assert failed.exit_code == 3
    assert "exited with code 3" in failed.reason
    vcjob = sim.sim.store.get(sim.sim.registry.by_key[("batch.volcano.sh", "jobs")], "default", ref.name)
    # PodFailed -> RestartJob: two runs in all (maxRetry 2), then Failed with retryCount = maxRetry
    assert vcjob["status"]["retryCount"] == 2


def test_queue_capability_is_respected(sim: Sim) -> None:
    sim.script("dt-*", run_seconds=3600)
    backend = sim.backend(queues={"vision": "capped"})  # capped: capability nvidia.com/gpu 8
    first = backend.submit(make_job("first", workers=1, gpus=8), Placement("kube-test"))
    wait_for(lambda: _observe(backend, first).phase is BackendPhase.RUNNING, "the first job")
    second = backend.submit(make_job("second", workers=1, gpus=1), Placement("kube-test"))
    held = wait_for(lambda: (o := _observe(backend, second)).reason and o, "the queue refusal")
    assert held.phase is BackendPhase.PENDING
    assert "queue resource quota insufficient" in held.reason
    snap = backend.snapshot()
    capped = snap.pool("capped")
    assert capped is not None and (capped.gpu_limit, capped.gpus_allocated, capped.pending_gpus) == (8, 8, 1)
    assert snap.gpus_free == 24  # the cluster has room; only the queue says no
    backend.cancel(first)
    wait_for(lambda: _observe(backend, second).phase is BackendPhase.RUNNING, "the second job after release")


def test_unknown_queue_is_rejected_by_admission(sim: Sim) -> None:
    backend = sim.backend(defaultQueue="no-such-queue")
    with pytest.raises(SubmitRejected, match="unable to find job queue"):
        backend.submit(make_job("orphan"), Placement("kube-test"))


def test_wrong_manifest_is_refused_with_422_naming_the_fields(sim: Sim) -> None:
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    api = client.CustomObjectsApi(config.new_client_from_config(str(sim.kubeconfig)))
    bad = {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "bad"},
           "spec": {"minAvailable": "four", "policies": [{"event": "NotAnEvent", "action": "RestartJob"}],
                    "tasks": [{"name": "w", "replicas": 1, "template": {"spec": {"containers": [{"name": "c"}]}}}]}}
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_custom_object("batch.volcano.sh", "v1alpha1", "default", "jobs", bad)
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    fields = {c["field"] for c in status["details"]["causes"]}
    assert fields == {"spec.minAvailable", "spec.policies[0].event"}
    # the same manifest, repaired, is accepted
    bad["spec"]["minAvailable"] = 1
    bad["spec"]["policies"][0]["event"] = "PodFailed"
    created = api.create_namespaced_custom_object("batch.volcano.sh", "v1alpha1", "default", "jobs", bad)
    assert created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as again:
        api.create_namespaced_custom_object("batch.volcano.sh", "v1alpha1", "default", "jobs", bad)
    assert again.value.status == 409 and json.loads(again.value.body)["reason"] == "AlreadyExists"


def test_snapshot_reads_topology_and_gpu_types(sim: Sim) -> None:
    snap = sim.backend().snapshot()
    assert snap.healthy and snap.kind == "volcano"
    assert {n.gpu_type for n in snap.nodes} == {"a100"}
    assert {n.name: n.switch for n in snap.nodes} == {"gpu-1": "leaf1", "gpu-2": "leaf1", "gpu-3": "leaf2",
                                                      "gpu-4": "leaf2"}
    assert {s.name: s.parent for s in snap.switches} == {"leaf1": "spine", "leaf2": "spine", "spine": None}
    assert snap.gpus_total == 32


def test_unreachable_api_server_is_backend_unavailable(tmp_path: Path) -> None:
    from dualtrack.adapters.base import BackendUnavailable
    from dualtrack.adapters.volcano import from_config
    from dualtrack.sim.kubeapi.config import write_kubeconfig

    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, "http://127.0.0.1:9", "nobody")  # discard port: nothing listens
    backend = from_config("down", {"kubeconfig": str(kubeconfig), "requestTimeoutSeconds": 1})
    with pytest.raises(BackendUnavailable, match="unreachable"):
        backend.snapshot()
    missing = from_config("nocfg", {"kubeconfig": str(tmp_path / "absent")})
    with pytest.raises(BackendUnavailable, match="cannot load kubeconfig"):
        missing.managed()


def test_watch_streams_events_and_wrong_token_is_401(sim: Sim) -> None:
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(str(sim.kubeconfig))
    core = client.CoreV1Api(api_client)
    nodes = core.list_node()
    rv = nodes.metadata.resource_version
    core.patch_node("gpu-2", {"spec": {"unschedulable": True}})
    stream = watch.Watch().stream(core.list_node, resource_version=rv, timeout_seconds=5)
    event = next(stream)
    assert (event["type"], event["object"].metadata.name, event["object"].spec.unschedulable) == (
        "MODIFIED", "gpu-2", True)
    req = urllib.request.Request(f"{sim.url}/api/v1/nodes", headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(req, timeout=5)
    assert denied.value.code == 401
    snap = wait_for(lambda: (s := sim.backend().snapshot()) and not next(
        n for n in s.nodes if n.name == "gpu-2").schedulable and s, "the cordon to show")
    assert snap.gpus_total == 24


def test_render_is_what_submit_sends(sim: Sim) -> None:
    backend = sim.backend()
    job = make_job("rendered", workers=2, gpus=4)
    backend.snapshot()  # learns the GPU products
    rendered = yaml.safe_load(backend.render(job, Placement("kube-test")))
    ref = backend.submit(job, Placement("kube-test"))
    stored = sim.sim.store.get(sim.sim.registry.by_key[("batch.volcano.sh", "jobs")], "default", ref.name)
    assert stored["spec"] == rendered["spec"]
    pods = wait_for(lambda: (p := sim.sim.store.list(sim.sim.registry.by_key[("", "pods")], "default")[0])
                    and len(p) == 2 and p, "the controller to create the pods")
    assert sorted(p["metadata"]["name"] for p in pods) == [f"{ref.name}-worker-0", f"{ref.name}-worker-1"]
    env = {e["name"]: e for e in pods[1]["spec"]["containers"][0]["env"]}
    assert env["VK_TASK_INDEX"]["value"] == "1"
    assert pods[1]["metadata"]["annotations"]["volcano.sh/task-index"] == "1"


def test_time_limit_fails_as_timeout(sim: Sim) -> None:
    sim.script("dt-*", run_seconds=3600)
    backend = sim.backend(maxRetry=1)  # one run: no in-place restart
    ref = backend.submit(make_job("too-slow", timeLimit="1s"), Placement("kube-test"))
    failed = wait_for(lambda: (o := _observe(backend, ref)).phase is BackendPhase.FAILED and o, "the deadline")
    assert failed.failure is FailureKind.TIMEOUT
    assert "DeadlineExceeded" in failed.reason


def test_evicted_pod_restarts_the_gang_in_place(sim: Sim) -> None:
    from kubernetes import client, config

    sim.script("dt-*", run_seconds=3600)
    backend = sim.backend(maxRetry=2)
    ref = backend.submit(make_job("evicted", workers=2, gpus=1), Placement("kube-test"))
    wait_for(lambda: _observe(backend, ref).phase is BackendPhase.RUNNING, "running")
    core = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig)))
    core.delete_namespaced_pod(f"{ref.name}-worker-1", "default")
    jobs = sim.sim.registry.by_key[("batch.volcano.sh", "jobs")]
    wait_for(lambda: sim.sim.store.get(jobs, "default", ref.name)["status"].get("retryCount") == 1, "a restart")
    restarting = _observe(backend, ref)
    assert restarting.phase is BackendPhase.RUNNING  # Restarting is not a step back to PENDING
    again = wait_for(lambda: (o := _observe(backend, ref)).native_state == "Running" and o, "running again")
    assert len(core.list_namespaced_pod("default", label_selector=f"volcano.sh/job-name={ref.name}").items) == 2
    assert again.failure is None


def test_other_namespace_refs_and_a_missing_namespace(sim: Sim) -> None:
    backend = sim.backend(namespace="team-x")  # the simulator has only "default"
    assert backend.managed() == []  # listing in a namespace that does not exist is empty, as on a real server
    from dualtrack.adapters.base import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="namespace team-x"):
        backend.submit(make_job("nowhere"), Placement("kube-test"))
    default = sim.backend()
    made = default.submit(make_job("here"), Placement("kube-test"))
    observed = backend.observe([made])  # a ref names its namespace: observed there, not in team-x
    assert observed[made].phase is not BackendPhase.MISSING
