"""Slurm 22.05 to 25.11 replies (tests/fixtures/slurm/<version>/, sources in the README there): every GPU request
form, mixed-GPU nodes, accounting TRES, slurmrestd's authentication failures and errors with error_number 0."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dualtrack.adapters.base import BackendUnavailable
from dualtrack.adapters.slurm.backend import SlurmBackend
from dualtrack.adapters.slurm.capacity import build_snapshot
from dualtrack.adapters.slurm.gpus import gpus_by_type, gpus_in, job_gpus
from dualtrack.adapters.slurm.parsers import errors_of, parse_jobs, parse_nodes
from dualtrack.adapters.slurm.records import PartitionRecord
from dualtrack.adapters.slurm.rest import RestTransport, SlurmAuthError
from dualtrack.adapters.slurm.settings import RestSettings
from dualtrack.adapters.slurm.text import parse_sacct_parsable
from dualtrack.broker.domain import FilterStatus, GpuGroup, Placement
from dualtrack.policies.capacity import GangRequest, SnapshotIndex, fit_gang
from tests.unit.policies.builders import make_job as policy_job

from .conftest import FIXTURES, load, make_job, settings
from .fake_restd import Canned, fake_restd
from .test_backend import ScriptedTransport

REST_VERSIONS = ["v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44"]
CAPTURED = FIXTURES / "22.05.8"


def _without_slash_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ([r for r in v if "/" not in r] if k == "required" and isinstance(v, list)
                    else _without_slash_required(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_slash_required(x) for x in node]
    return node


SCHEMAS = {"jobs_gpu_forms": "openapi_job_info_resp", "nodes_mixed": "openapi_nodes_resp",
           "slurmdb_typed_tres": "openapi_slurmdbd_jobs_resp", "node_missing": "openapi_nodes_resp",
           "ping": "openapi_ping_array_resp", "diag": "openapi_diag_resp"}


@pytest.mark.parametrize("version", REST_VERSIONS)
@pytest.mark.parametrize("fixture", sorted(SCHEMAS))
def test_written_fixtures_follow_their_versions_spec(version: str, fixture: str) -> None:
    spec = _without_slash_required(load(f"openapi_spec_{version}.json"))
    validator = jsonschema.Draft7Validator(
        {"$ref": f"#/components/schemas/{version}_{SCHEMAS[fixture]}", "components": spec["components"]})
    doc = load(f"{version}/{fixture}.json")
    assert list(validator.iter_errors(doc)) == []
    broken = copy.deepcopy(doc)
    broken["meta"] = "not an object"
    assert list(validator.iter_errors(broken)) != []


# ------------------------------------------------------------------------------------- 1. GPU request forms
@pytest.mark.parametrize("version", REST_VERSIONS)
def test_every_gpu_request_form_is_counted(version: str) -> None:
    jobs = parse_jobs(load(f"{version}/jobs_gpu_forms.json"))
    # each job's name ends in the GPUs it must count: per-socket 2 x 2 sockets = 4, per-task 1 x 3 tasks = 3,
    # per-job 5, per-node 2 x 2 nodes = 4, running 2 + 2 from gres_detail (not 8 from the typed TRES too),
    # per-socket without a sockets-per-node count = 2 (one socket assumed)
    assert {j.name: j.gpus for j in jobs} == {j.name: int(j.name.rsplit("-", 1)[1]) for j in jobs}


@pytest.mark.parametrize("version", REST_VERSIONS)
def test_pending_gpu_forms_reach_the_backlog(version: str) -> None:
    jobs = parse_jobs(load(f"{version}/jobs_gpu_forms.json"))
    snap = build_snapshot("s", 0.0, [], [PartitionRecord("gpu")], [], jobs)
    assert snap.pool("gpu") is not None and snap.pool("gpu").pending_gpus == 4 + 3 + 5 + 4 + 2  # type: ignore[union-attr]


def test_slurm_22_05_gpu_forms_captured_from_the_local_cluster() -> None:
    pending = {int(j.job_id): j.gpus for j in parse_jobs(load("22.05.8/squeue_gpu_forms_pending.json"))}
    # --gpus-per-socket=2 x 2 sockets, --gpus-per-task=1 x 3, --gpus=5, --gres=gpu:a100:2 x 2 nodes, a100:3
    assert pending == {356: 4, 357: 3, 358: 5, 359: 4, 360: 3}
    running = {int(j.job_id): j.gpus for j in parse_jobs(load("22.05.8/squeue_gpu_forms_running.json"))}
    assert running == {389: 2, 390: 2}


def test_finished_jobs_count_allocated_tres_from_accounting() -> None:
    text = (CAPTURED / "sacct_parsable_alloctres.txt").read_text()
    assert {r.job_id: r.gpus for r in parse_sacct_parsable(text)} == {"389": 2, "390": 2}
    assert [r.gpus for r in parse_jobs(load("22.05.8/sacct_gpu_forms.json"))] == [2, 2]
    for version in REST_VERSIONS:  # gres/gpu=4 and gres/gpu:h100=4 are the same four GPUs
        assert [r.gpus for r in parse_jobs(load(f"{version}/slurmdb_typed_tres.json"))] == [4]


def test_job_gpu_forms_in_order_of_exactness() -> None:
    two_nodes = {"node_count": {"set": True, "infinite": False, "number": 2}}
    assert job_gpus({**two_nodes, "gres": "gpu:3"}) == 6  # a per-node GRES request
    assert job_gpus({**two_nodes, "tres_per_node": "gres/gpu:1", "tres_alloc_str": "gres/gpu=4"}) == 4
    assert job_gpus({**two_nodes, "tres_per_job": "gres/gpu:5", "tres_per_node": "gres/gpu:1"}) == 5
    assert job_gpus({"tres_per_socket": "gres/gpu:2", "sockets_per_node": 65534}) == 2  # NO_VAL16: unset
    assert job_gpus({"tres_per_task": "gres/gpu:2", "tasks_per_node": 4, **two_nodes}) == 16
    assert job_gpus({"tres_req_str": "cpu=1,gres/gpu=3"}) == 3 and job_gpus({}) == 0


@pytest.mark.parametrize(
    ("text", "by_type"),
    [("gpu:h100:2(S:0),gpu:h200:4(S:1)", {"h100": 2, "h200": 4}),
     ("cpu=4,gres/gpu=8,gres/gpu:a100=8", {"a100": 8}),
     ("cpu=4,gres/gpu=8,gres/gpu:a100=6", {"a100": 6, None: 2}),
     ("gres:gpu:2", {None: 2}), ("gres/gpu:h100:2", {"h100": 2}), ("gpu:a100:2(IDX:0,2)", {"a100": 2})],
)
def test_gpus_by_type(text: str, by_type: dict[str | None, int]) -> None:
    assert gpus_by_type(text) == by_type and gpus_in(text) == sum(by_type.values())


# ---------------------------------------------------------------------------------------- 2. mixed-GPU nodes
@pytest.mark.parametrize("version", REST_VERSIONS)
def test_a_node_with_two_gpu_types_keeps_both(version: str) -> None:
    snap = build_snapshot("s", 0.0, parse_nodes(load(f"{version}/nodes_mixed.json")), [PartitionRecord("gpu")], [], [])
    m1 = next(n for n in snap.nodes if n.name == "m1")
    assert m1.groups() == (GpuGroup("h100", 2, 1), GpuGroup("h200", 4, 4))
    assert (m1.gpus_total, m1.gpus_free) == (6, 5)
    assert snap.gpus_by_type() == {"h100": (2, 1), "h200": (8, 4)}


@pytest.mark.parametrize("version", REST_VERSIONS)
def test_placement_by_gpu_type_uses_the_per_type_counts(version: str) -> None:
    snap = build_snapshot("s", 0.0, parse_nodes(load(f"{version}/nodes_mixed.json")), [PartitionRecord("gpu")], [], [])
    index = SnapshotIndex(snap)

    def fit(gpu_type: str, gpus: int) -> tuple[FilterStatus, list[str]]:
        result = fit_gang(index, index.scope(None), GangRequest.of(policy_job(gpus=gpus, gpu_type=gpu_type, cpus=1)))
        return result.status, [index.snapshot.nodes[i].name for i in result.nodes]

    assert fit("h200", 4) == (FilterStatus.OK, ["m1"])  # m2's four h200 are busy; m1's are free
    assert fit("h100", 1) == (FilterStatus.OK, ["m1"])
    assert fit("h100", 2)[0] is FilterStatus.UNSCHEDULABLE  # m1 has 2 h100, one busy: not now, but some day
    assert fit("h100", 3)[0] is FilterStatus.UNRESOLVABLE  # no node has 3 h100 (m1's 6 GPUs are not all h100)


# ---------------------------------------------------------------------- 3. and 4. slurmrestd's error replies
def _rest(url: str, version: str, token_file: Path) -> RestTransport:
    return RestTransport(RestSettings(url=url, token_file=str(token_file), api_version=version))


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "slurm.jwt"
    path.write_text("SLURM_JWT=header.payload.signature\n")
    return path


@pytest.mark.parametrize(
    ("version", "answer"),
    [("v0.0.38", Canned.capture(CAPTURED / "rest_no_token_v0.0.38.http")),  # 22.05: 401 text/plain
     *[(v, Canned(401, b"Authentication failure", "text/plain")) for v in REST_VERSIONS[:3]],  # 24.05-25.05
     ("v0.0.44", Canned(500, b"Authentication does not apply to request", "text/plain"))],  # 25.11
)
def test_authentication_failures_name_the_token_source(version: str, answer: Canned, token_file: Path) -> None:
    with fake_restd({f"GET /slurm/{version}/nodes/": answer}) as server, pytest.raises(SlurmAuthError) as caught:
        _rest(server.url, version, token_file).nodes()
    message = str(caught.value)
    assert str(token_file) in message and "not JSON" not in message
    assert re.search(r"HTTP (401|500): Authentication (failure|does not apply to request)", message)
    assert "header.payload.signature" not in message


@pytest.mark.parametrize("version", REST_VERSIONS)
def test_error_number_0_keeps_its_description(version: str, token_file: Path) -> None:
    doc = load(f"{version}/node_missing.json")
    assert errors_of(doc) == ["Failure to query node n9"]
    served = fake_restd({f"GET /slurm/{version}/nodes/": Canned.json(doc)})
    with served as server, pytest.raises(BackendUnavailable, match="Failure to query node n9"):
        _rest(server.url, version, token_file).nodes()


def test_slurm_22_05_errors_keep_number_and_description(token_file: Path) -> None:
    missing = Canned.capture(CAPTURED / "rest_node_missing_v0.0.38.http")
    bad_token = Canned.capture(CAPTURED / "rest_bad_token_v0.0.38.http")
    with fake_restd({"GET /slurm/v0.0.38/nodes/": missing, "GET /slurm/v0.0.38/partitions/": bad_token}) as server:
        rest = _rest(server.url, "v0.0.38", token_file)
        with pytest.raises(BackendUnavailable, match=r"Invalid node name specified \(error 2018\)"):
            rest.nodes()
        with pytest.raises(BackendUnavailable, match="Unspecified error: slurmctld config is unable to load"):
            rest.partitions()


def test_an_answer_that_is_not_json_is_quoted(token_file: Path) -> None:
    served = fake_restd({"GET /slurm/v0.0.42/nodes/": Canned(502, b"<html>Bad Gateway</html>", "text/html")})
    with served as server, pytest.raises(BackendUnavailable, match=r"HTTP 502, not JSON: '<html>Bad Gateway"):
        _rest(server.url, "v0.0.42", token_file).nodes()


def test_check_counts_only_the_asked_type_on_a_mixed_node() -> None:
    transport = ScriptedTransport()
    transport.node_records = parse_nodes(load("v0.0.44/nodes_mixed.json"))
    transport.partition_records = [PartitionRecord("gpu")]
    backend = SlurmBackend("s", settings(), transport)

    def check(gpu_type: str, gpus: int) -> str | None:
        resources = {"gpusPerWorker": gpus, "gpuType": gpu_type, "cpusPerWorker": 1, "memoryPerWorker": "1Gi"}
        return backend.check(make_job(resources=resources), Placement("s"))

    assert check("h200", 4) is None
    assert check("h100", 3) == "asks 3 h100 GPUs per node but the largest node of partition 'gpu' has 2"
