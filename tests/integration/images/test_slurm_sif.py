"""End to end on the real local Slurm cluster (scripts/slurm/start.sh): a Slurm job runs inside the SIF converted
from the test's OCI image (runtime sif-bwrap: scripts/images/sif-run), reads a file that exists only inside the
image and sees the image's ENV; the vcjob rendered for the same job references the same digest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from dualtrack.broker.domain import Job, Placement, new_job_id, parse_spec
from dualtrack.broker.domain.backend import BackendPhase
from dualtrack.broker.domain.image import digest_of, sif_filename
from dualtrack.broker.images import ImageService, ImageSettings

pytestmark = pytest.mark.slurm

SLURM_ENV = Path(os.environ.get("DUALTRACK_SLURM_DIR", "/var/tmp/dualtrack-slurm")) / "env"
SIF_RUN = Path(__file__).resolve().parents[3] / "scripts" / "images" / "sif-run"
TERMINAL = {BackendPhase.SUCCEEDED, BackendPhase.FAILED, BackendPhase.CANCELLED}


def slurm_env() -> dict[str, str]:
    """The variables start.sh wrote, or a skip naming what is missing."""
    if not SLURM_ENV.is_file():
        pytest.skip(f"no local Slurm cluster: {SLURM_ENV} is missing (run scripts/slurm/start.sh)")
    env = {}
    for line in SLURM_ENV.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip("'\"")
    ping = subprocess.run(["scontrol", "ping"], env={**os.environ, "SLURM_CONF": env["SLURM_CONF"]},
                          capture_output=True, text=True)  # fmt: skip
    if ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.skip(f"the local Slurm controller does not answer (scontrol ping: {ping.stdout.strip()})")
    return env


@pytest.fixture
def adapters_or_skip() -> SimpleNamespace:
    try:
        import dualtrack.adapters.slurm as slurm
        import dualtrack.adapters.volcano as volcano
    except ImportError as e:
        pytest.skip(f"the Slurm or Volcano adapter is not importable yet: {e}")
    return SimpleNamespace(slurm=slurm, volcano=volcano)


def make_job(image: str, image_ref: str) -> Job:
    check = (
        'cat /opt/dualtrack-marker.txt && test "$DUALTRACK_IMAGE_ENV" = from-the-image && '
        'test -n "$SLURM_JOB_ID" && test -n "$CUDA_VISIBLE_DEVICES" && echo "inside pwd=$(pwd) rank=$NODE_RANK"'
    )
    doc: dict[str, Any] = {
        "apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "sif-marker", "tenant": "vision"},
        "spec": {"image": image, "command": ["/bin/sh", "-c", check], "timeLimit": "5m",
                 "resources": {"workers": 1, "gpusPerWorker": 1, "gpuType": "a100", "cpusPerWorker": 1,
                               "memoryPerWorker": "1Gi"}},
    }  # fmt: skip
    return Job(id=new_job_id(), spec=parse_spec(doc), image_ref=image_ref)


def test_slurm_job_runs_inside_the_sif_and_the_vcjob_has_the_same_digest(
    oci_image: SimpleNamespace, adapters_or_skip: SimpleNamespace, tmp_path: Path
) -> None:
    env = slurm_env()
    if os.geteuid() != 0 or shutil.which("bwrap") is None:
        pytest.skip("the sif-bwrap runtime needs root and bwrap (package bubblewrap)")
    assert not Path("/opt/dualtrack-marker.txt").exists()  # the file exists only inside the image

    image_dir = tmp_path / "sif"
    images = ImageService(
        ImageSettings.from_mapping({"cacheDir": str(image_dir), "sources": {oci_image.ref: oci_image.source}})
    )
    resolved = images.pin(oci_image.ref)
    images.ensure_sif(resolved)
    job = make_job(oci_image.ref, resolved.pinned_ref)

    slurm = adapters_or_skip.slurm.from_config(
        "slurm-local",
        {
            "transport": "cli",
            "partition": env.get("DUALTRACK_SLURM_PARTITION", "gpu"),
            "slurmConf": env["SLURM_CONF"],
            "outputDir": env["DUALTRACK_SLURM_OUTPUT_DIR"],
            "container": {"runtime": "sif-bwrap", "imageDir": str(image_dir), "sifRunner": str(SIF_RUN)},
        },
    )
    placement = Placement("slurm-local")
    script = slurm.render(job, placement)
    assert str(image_dir / sif_filename(resolved.digest)) in script and str(SIF_RUN) in script

    ref = slurm.submit(job, placement)
    try:
        deadline = time.monotonic() + 180
        observed = slurm.observe([ref])[ref]
        while observed.phase not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.5)
            observed = slurm.observe([ref])[ref]
    finally:
        slurm.cancel(ref)
    output = Path(env["DUALTRACK_SLURM_OUTPUT_DIR"]) / f"slurm-{ref.native_id}.out"
    text = output.read_text() if output.exists() else "(no output file)"
    assert observed.phase is BackendPhase.SUCCEEDED, f"{observed}\n{text}"
    assert observed.exit_code in (0, None)
    assert oci_image.marker.strip() in text
    assert "inside pwd=/opt/app rank=0" in text

    kubeconfig = tmp_path / "kubeconfig"  # render needs no cluster; the client only reads this file
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "t", "user": {"token": "t"}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
    }))  # fmt: skip
    volcano = adapters_or_skip.volcano.from_config("kube", {"kubeconfig": str(kubeconfig)})
    vcjob = yaml.safe_load(volcano.render(job, Placement("kube")))
    images_in_vcjob = [c["image"] for task in vcjob["spec"]["tasks"] for c in task["template"]["spec"]["containers"]]
    assert images_in_vcjob and all(digest_of(image) == resolved.digest for image in images_in_vcjob), images_in_vcjob
    assert images_in_vcjob[0] == resolved.pinned_ref
