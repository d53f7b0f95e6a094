"""Must show: the same YOLO spec means the same training on both tracks. One 2-epoch job runs on Slurm (the
SIF) and one on Kubernetes (the process kubelet, the OCI layout), both pinned to the same image digest; the
``args.yaml`` ultralytics writes into each run directory are equal except for the fields that name the place
(docs/kubernetes.md, "Same spec, same training on both tracks": ``name`` and ``save_dir``, since each job's
run directory is named by its own job id)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from dualtrack.v1 import broker_pb2 as pb
from tests.integration.cross_track.dual import KUBE, SLURM, TERMINAL, DualTrack, yolo_spec

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
PLACE_FIELDS = {"name", "save_dir"}


def test_args_yaml_is_the_same_on_both_tracks_but_for_the_place(make_dual: Callable[..., DualTrack]) -> None:
    dual = make_dual()
    ids = {track: dual.submit(yolo_spec(f"parity-{track}", epochs=2, track=track), f"parity-{track}")
           for track in ("slurm", "kubernetes")}
    jobs = {track: dual.wait(job_id, lambda j: j.state in TERMINAL, 1500, f"the {track} run")
            for track, job_id in ids.items()}
    for track, job in jobs.items():
        assert job.state == pb.SUCCEEDED, (track, job.reason)
    assert jobs["slurm"].backend == SLURM and jobs["kubernetes"].backend == KUBE
    assert jobs["slurm"].image_ref == jobs["kubernetes"].image_ref and jobs["slurm"].image_ref.endswith(dual.digest)
    args = {track: yaml.safe_load((dual.run_dir(job_id) / "args.yaml").read_text()) for track, job_id in ids.items()}
    differing = {key for key in args["slurm"].keys() | args["kubernetes"].keys()
                 if args["slurm"].get(key) != args["kubernetes"].get(key)}
    assert differing <= PLACE_FIELDS, {k: (args["slurm"].get(k), args["kubernetes"].get(k)) for k in differing}
    assert args["slurm"]["name"] == ids["slurm"] and args["kubernetes"]["name"] == ids["kubernetes"]
    assert args["slurm"]["epochs"] == 2 and args["slurm"]["data"] == "/datasets/synthetic/data.yaml"
