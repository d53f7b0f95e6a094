"""Must show: a 2-epoch YOLO job (synthetic dataset, CPU) trains for real on the Kubernetes track through the
broker, in the project's YOLO image (the OCI layout the Slurm SIF is converted from: the pod's image is that
layout's digest), writes its run to the checkpoint root both tracks share, and ``kubectl logs`` shows the
training. The first run on a machine unpacks the image (minutes); later runs reuse it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dualtrack.sim.kubeapi.kubelet.config import KubeletConfig
from dualtrack.v1 import broker_pb2 as pb
from tests.integration.kubelet.process_sim import ProcessSim, start_process_sim, until
from tests.integration.kubelet.yolo_env import (
    DATASET,
    IMAGE,
    ROOTFS_CACHE,
    layout_digest,
    make_dataset,
    results_rows,
    yolo_layout,
    yolo_spec,
)
from tests.integration.lifecycle.cluster import Broker, Client, broker_config, free_port

pytestmark = [pytest.mark.slow]


@pytest.fixture
def yolo_kube(tmp_path: Path, bwrap: None) -> Iterator[tuple[ProcessSim, Client, Path, str]]:
    layout = yolo_layout()
    datasets, checkpoints = tmp_path / "datasets", tmp_path / "checkpoints"
    checkpoints.mkdir()
    make_dataset(datasets)
    kubelet = KubeletConfig(image_layouts=[layout], image_cache=ROOTFS_CACHE,
                            claims={DATASET: datasets / DATASET, "checkpoints": checkpoints})
    sim = start_process_sim(tmp_path, kubelet, nodes=1, gpus=0)
    config = broker_config(port=free_port(), store_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
                           kubeconfig=sim.kubeconfig, slurm=False,
                           kube_settings={"maxRetry": 1, "checkpointClaim": "checkpoints",
                                          "checkpointRoot": str(checkpoints)})
    config["images"] = {"sources": {IMAGE: f"oci:{layout}:latest"}, "workDir": str(tmp_path)}
    broker = Broker(config, tmp_path)
    broker.start()
    client = Client([broker.address])
    try:
        yield sim, client, checkpoints, layout_digest(layout)
    finally:
        client.close()
        broker.stop()
        sim.sim.stop()


def test_a_two_epoch_yolo_job_trains_on_the_kubernetes_track(yolo_kube: tuple[ProcessSim, Client, Path, str]) -> None:
    sim, client, checkpoints, digest = yolo_kube
    job_id = client.submit(yolo_spec("yolo-kube", epochs=2), "yolo-kube").job.id
    job = until(lambda: (j := client.get(job_id)).state in (pb.SUCCEEDED, pb.FAILED) and j, 1200, "the YOLO job")
    log = sim.core().read_namespaced_pod_log(f"{job.object_name}-worker-0", "default")
    assert job.state == pb.SUCCEEDED, (job.reason, log[-3000:])
    assert job.track == "kubernetes" and job.image_ref.endswith(digest)
    run_dir = checkpoints / "vision" / job_id
    assert job.output_dir == str(run_dir)
    assert len(results_rows(run_dir)) == 2
    assert (run_dir / "args.yaml").is_file() and (run_dir / "weights" / "last.pt").is_file()
    assert "2 epochs completed" in log
