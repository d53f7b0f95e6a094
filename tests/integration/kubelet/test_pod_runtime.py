"""Must show, with the Volcano adapter against the process kubelet: a pod runs inside its image's root
filesystem (a local OCI layout found by digest, unpacked once per digest for both workers) with the image's
ENV and WORKDIR, its dataset PVC mapped to a host folder, a memory-backed /dev/shm, its fake GPU indices;
the host's files are not visible."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from dualtrack.broker.domain import BackendPhase, Job, Placement, new_job_id, parse_spec
from dualtrack.sim.kubeapi.kubelet.config import KubeletConfig
from tests.integration.kubelet.image import IMAGE_ENV, build_layout
from tests.integration.kubelet.process_sim import start_process_sim, until

SCRIPT = ('echo "marker=$(cat /opt/marker.txt)"; echo "env=$' + IMAGE_ENV + '"; echo "pwd=$(pwd)"; '
          'echo "data=$(cat /datasets/weld/data.txt)"; echo "gpus=$CUDA_VISIBLE_DEVICES/$NVIDIA_VISIBLE_DEVICES"; '
          'echo "rank=$NODE_RANK"; cat /proc/mounts; if [ -e /work ]; then echo host-visible; fi; '
          'if echo x > /datasets/weld/write-test 2>/dev/null; then echo dataset-writable; fi')


@pytest.mark.skipif(shutil.which("umoci") is None, reason="needs umoci (Debian package umoci)")
def test_a_pod_runs_in_its_image_with_volumes_and_gpus(tmp_path: Path, bwrap: None) -> None:
    marker = f"only-in-the-image-{secrets.token_hex(6)}"
    layout, digest = build_layout(tmp_path / "image", marker)
    data = tmp_path / "datasets" / "weld"
    data.mkdir(parents=True)
    (data / "data.txt").write_text("weld-images")
    cache = tmp_path / "rootfs-cache"
    kubelet = KubeletConfig(image_layouts=[layout], image_cache=cache, claims={"weld-claim": data})
    handle = start_process_sim(tmp_path, kubelet, nodes=1, gpus=4)
    try:
        backend = handle.backend(datasets={"weld": "weld-claim"})
        doc = {"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "in-image", "tenant": "t"},
               "spec": {"image": "registry.example.local/kubelet/marker:t", "command": ["bash", "-c", SCRIPT],
                        "datasets": ["weld"],
                        "resources": {"workers": 2, "gpusPerWorker": 2, "cpusPerWorker": 1, "memoryPerWorker": "1Gi"}}}
        job = Job(id=new_job_id(), spec=parse_spec(doc), image_ref=f"registry.example.local/kubelet/marker@{digest}")
        ref = backend.submit(job, Placement(backend="kube-test"))
        observed = until(lambda: (o := backend.observe([ref])[ref]).phase in (
            BackendPhase.SUCCEEDED, BackendPhase.FAILED) and o, 120, "the vcjob to finish")
        core = handle.core()
        logs = [core.read_namespaced_pod_log(f"{job.object_name}-worker-{i}", "default") for i in range(2)]
        assert observed.phase is BackendPhase.SUCCEEDED, (observed.reason, logs)
        for rank, log in enumerate(logs):
            assert f"marker={marker}" in log
            assert "env=from-the-image" in log and "pwd=/opt/app" in log and "data=weld-images" in log
            assert f"rank={rank}" in log
            assert any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in log.splitlines() if " " in line)
            assert "host-visible" not in log and "dataset-writable" not in log
        gpus = sorted(line for log in logs for line in log.splitlines() if line.startswith("gpus="))
        assert gpus == ["gpus=0,1/0,1", "gpus=2,3/2,3"]
        assert [p.name for p in cache.iterdir() if not p.name.startswith(".")] == [digest.replace(":", "-")]
    finally:
        handle.sim.stop()
