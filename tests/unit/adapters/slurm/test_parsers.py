"""Every JSON sample of tests/fixtures/slurm parsed into records (see the README there for sources)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from dualtrack.adapters.slurm.gpus import gpus_in
from dualtrack.adapters.slurm.parsers import (
    errors_of,
    gres_type,
    number,
    parse_jobs,
    parse_nodes,
    parse_partitions,
    split_state,
)
from dualtrack.adapters.slurm.records import JobRecord
from dualtrack.adapters.slurm.render import build_request
from dualtrack.adapters.slurm.rest import endpoint_paths, submit_body
from dualtrack.broker.domain import Placement

from .conftest import load, make_job, settings


def by_id(records: list[JobRecord]) -> dict[str, JobRecord]:
    return {r.job_id: r for r in records}


# ------------------------------------------------------------------------------------------- squeue
def test_squeue_21_08_v0_0_37() -> None:
    jobs = parse_jobs(load("squeue_21.08.5.json"))
    assert len(jobs) == 2
    first = jobs[0]
    assert (first.job_id, first.name, first.state, first.nodes, first.partition) == (
        "26515966", "job_name", "RUNNING", "cs75", "hw-l")
    assert first.time_limit_s == 30240 * 60 and first.start_time == 1684114921
    assert first.exit_code == 0


def test_squeue_22_05_v0_0_38_live_states_exit_codes_and_gpus() -> None:
    jobs = by_id(parse_jobs(load("squeue_22.05.8.json")))
    run, pend, fail, sig, canc, tout = (jobs[i] for i in ("18", "19", "20", "21", "22", "23"))
    assert (run.name, run.state, run.gpus, run.nodes, run.comment) == (
        "dt-fixture0run-1", "RUNNING", 4, "n1", "dualtrack:fixture0run:1")
    assert (pend.state, pend.gpus, pend.reason, pend.time_limit_s) == ("PENDING", 32, "Resources", 600)
    assert (fail.state, fail.exit_code, fail.signal, fail.reason) == ("FAILED", 3, None, "NonZeroExitCode")
    assert (sig.state, sig.exit_code, sig.signal) == ("FAILED", 0, 9)
    assert canc.state == "CANCELLED"
    assert tout.state == "RUNNING" and tout.time_limit_s == 60


def test_rest_jobs_v0_0_38_matches_squeue_shape() -> None:
    jobs = by_id(parse_jobs(load("rest_jobs_v0.0.38.json")))
    assert jobs["20"].exit_code == 3 and jobs["18"].gpus == 4 and jobs["19"].state == "PENDING"


@pytest.mark.parametrize("version", ["41", "42"])
def test_rest_jobs_v0_0_41_and_42(version: str) -> None:
    jobs = by_id(parse_jobs(load(f"rest_jobs_v0.0.{version}.json")))
    assert (jobs["101"].state, jobs["101"].gpus, jobs["101"].time_limit_s) == ("RUNNING", 8, 3600)
    assert (jobs["102"].state, jobs["102"].gpus, jobs["102"].reason) == ("PENDING", 32, "Resources")
    assert (jobs["103"].state, jobs["103"].exit_code, jobs["103"].gpus) == ("FAILED", 3, 2)
    assert (jobs["104"].state, jobs["104"].flags) == ("COMPLETED", ("COMPLETING",))
    assert (jobs["105"].state, jobs["105"].flags) == ("PENDING", ("REQUEUED",))
    assert (jobs["106"].state, jobs["106"].signal) == ("CANCELLED", 9)
    assert jobs["101"].start_time == 1795797010 and jobs["102"].start_time is None


# --------------------------------------------------------------------------------------------- sacct
def test_sacct_21_08_dbv0_0_37() -> None:
    jobs = parse_jobs(load("sacct_21.08.8.json"))
    first = jobs[0]
    assert (first.job_id, first.state, first.reason, first.gpus, first.time_limit_s) == (
        "10", "NODE_FAIL", "Prolog", 1, 1440 * 60)
    assert first.exit_code == 0


def test_sacct_22_05_dbv0_0_38() -> None:
    jobs = by_id(parse_jobs(load("sacct_22.05.8.json")))
    assert [jobs[i].state for i in ("18", "20", "21", "22", "23")] == [
        "COMPLETED", "FAILED", "FAILED", "CANCELLED", "TIMEOUT"]
    assert jobs["21"].signal == 9 and jobs["18"].gpus == 4
    # 22.05's sacct --json loses the return code of job 20 (exit 3): the CLI transport reads sacct's text
    assert jobs["20"].exit_code == 0


def test_rest_slurmdb_dbv0_0_38() -> None:
    (job,) = parse_jobs(load("rest_slurmdb_job_dbv0.0.38.json"))
    assert (job.job_id, job.name, job.state) == ("20", "dt-fixture0fail-1", "FAILED")


@pytest.mark.parametrize("version", ["41", "42"])
def test_rest_slurmdb_v0_0_41_and_42(version: str) -> None:
    (job,) = parse_jobs(load(f"rest_slurmdb_jobs_v0.0.{version}.json"))
    assert (job.state, job.exit_code, job.signal, job.comment, job.gpus, job.time_limit_s) == (
        "TIMEOUT", 0, 15, "dualtrack:jcccccccccccc:1", 2, 60)


# --------------------------------------------------------------------------------------------- nodes
def test_sinfo_21_08_nodes() -> None:
    nodes = parse_nodes(load("sinfo_21.08.5.json"))
    assert len(nodes) == 4
    assert nodes[0].name == "cs2.example.company.com" and nodes[0].cpus == 64 and nodes[0].alloc_cpus == 4
    assert "MIXED" in nodes[0].states and nodes[0].partitions == ("hw",)


def test_sinfo_22_05_nodes_with_gres_used_and_a_drained_node() -> None:
    nodes = {n.name: n for n in parse_nodes(load("sinfo_22.05.8.json"))}
    assert sorted(nodes) == ["n1", "n2", "n3", "n4"]
    assert (nodes["n1"].gres, gpus_in(nodes["n1"].gres_used)) == ("gpu:a100:8", 4)
    assert nodes["n1"].memory_mb == 64000 and nodes["n1"].alloc_memory_mb > 0
    assert "DRAIN" in nodes["n4"].states and nodes["n4"].reason == "fixture-maintenance"


def test_rest_nodes_v0_0_38() -> None:
    nodes = {n.name: n for n in parse_nodes(load("rest_nodes_v0.0.38.json"))}
    assert nodes["n1"].gres == "gpu:a100:8" and nodes["n1"].partitions == ("gpu",)


@pytest.mark.parametrize("version", ["41", "42"])
def test_rest_nodes_v0_0_41_and_42(version: str) -> None:
    nodes = {n.name: n for n in parse_nodes(load(f"rest_nodes_v0.0.{version}.json"))}
    assert gres_type(nodes["n1"].gres) == "a100" and gpus_in(nodes["n1"].gres_used) == 4
    assert nodes["n3"].states == {"IDLE", "DRAIN"} and nodes["n4"].states == {"DOWN", "NOT_RESPONDING"}


def test_sinfo_23_02_data_parser_rows() -> None:
    nodes = parse_nodes(load("sinfo_23.02.4.json"))
    assert nodes and all(n.cpus == 64 for n in nodes)
    cs62 = next(n for n in nodes if n.name == "cs62")
    assert cs62.states == {"ALLOCATED", "DRAIN"} and cs62.reason == "IT-4461"


def test_sinfo_N_23_02_one_row_per_node() -> None:
    (node,) = parse_nodes(load("sinfo_N_23.02.5.json"))
    assert (node.name, node.cpus, node.alloc_cpus, node.partitions) == ("localhost", 1, 1, ("debug",))


# ---------------------------------------------------------------------------------------- partitions
def test_rest_partitions_v0_0_38() -> None:
    (gpu,) = parse_partitions(load("rest_partitions_v0.0.38.json"))
    assert (gpu.name, gpu.up, gpu.max_time_s, gpu.nodes) == ("gpu", True, None, "n[1-4]")


@pytest.mark.parametrize("version", ["41", "42"])
def test_rest_partitions_v0_0_41_and_42(version: str) -> None:
    gpu, debug = parse_partitions(load(f"rest_partitions_v0.0.{version}.json"))
    assert (gpu.name, gpu.up, gpu.max_time_s) == ("gpu", True, 1440 * 60)
    assert (debug.name, debug.up, debug.max_time_s) == ("debug", False, None)


# ----------------------------------------------------------------------------------- helpers and errors
@pytest.mark.parametrize(
    ("value", "expected"),
    [("RUNNING", ("RUNNING", ())), ("COMPLETED+COMPLETING", ("COMPLETED", ("COMPLETING",))),
     (["PENDING", "REQUEUED"], ("PENDING", ("REQUEUED",))), ("CANCELLED by 0", ("CANCELLED", ())),
     ("CONFIGURING", ("CONFIGURING", ())), (None, ("UNKNOWN", ()))],
)
def test_split_state(value: Any, expected: tuple[str, tuple[str, ...]]) -> None:
    assert split_state(value) == expected


@pytest.mark.parametrize(
    ("text", "gpus"),
    [("gres:gpu:a100:4", 4), ("gres/gpu:a100=8", 8), ("cpu=4,mem=1G,gres/gpu=8", 8), ("gpu:2,gpu:a100:1", 3),
     ("gpu:a100:4(IDX:0-3)", 4), ("gpu:a100:8(S:0-1)", 8), ("", 0), ("license:x:3", 0)],
)
def test_gpus_in(text: str, gpus: int) -> None:
    assert gpus_in(text) == gpus


def test_number_forms() -> None:
    assert [number(5), number("7"), number({"set": True, "number": 3}), number({"set": False, "number": 3}),
            number({"set": True, "infinite": True, "number": 0}), number(None), number(True)] == [
        5, 7, 3, None, None, None, None]


def test_unknown_documents_raise_value_error() -> None:
    for parse in (parse_jobs, parse_nodes, parse_partitions):
        with pytest.raises(ValueError):
            parse({"meta": {}})
    assert errors_of({"errors": [{"error": "Unable to contact slurm controller", "error_number": 1007}]}) == [
        "Unable to contact slurm controller (error 1007)"]


# ------------------------------------------------------------------------ the specs' own schemas
def _without_slash_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ([r for r in v if "/" not in r] if k == "required" and isinstance(v, list)
                    else _without_slash_required(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_slash_required(x) for x in node]
    return node


def _validator(spec_file: str, schema: str) -> jsonschema.Draft7Validator:
    spec = _without_slash_required(load(spec_file))
    return jsonschema.Draft7Validator({"$ref": f"#/components/schemas/{schema}", "components": spec["components"]})


@pytest.mark.parametrize("version", ["41", "42"])
@pytest.mark.parametrize(
    ("fixture", "schema"),
    [("rest_jobs", "openapi_job_info_resp"), ("rest_nodes", "openapi_nodes_resp"),
     ("rest_partitions", "openapi_partition_resp"), ("rest_submit", "openapi_job_submit_response"),
     ("rest_slurmdb_jobs", "openapi_slurmdbd_jobs_resp")],
)
def test_written_fixtures_follow_the_spec(version: str, fixture: str, schema: str) -> None:
    validator = _validator(f"openapi_spec_v0.0.{version}.json", f"v0.0.{version}_{schema}")
    doc = load(f"{fixture}_v0.0.{version}.json")
    assert list(validator.iter_errors(doc)) == []
    broken = copy.deepcopy(doc)
    broken["errors"] = "not a list"
    assert list(validator.iter_errors(broken)) != []  # the validator does check


@pytest.mark.parametrize("version", ["41", "42"])
def test_rest_submit_request_follows_the_spec(version: str) -> None:
    job = make_job(resources={"workers": 2, "gpusPerWorker": 4, "gpuType": "a100"}, topology={"tier": "switch"})
    request = build_request(job, Placement("x"), settings(qos="normal", accounts={"vision": "v"}))
    body = submit_body(request, f"v0.0.{version}")
    assert list(_validator(f"openapi_spec_v0.0.{version}.json", f"v0.0.{version}_job_submit_req")
                .iter_errors(body)) == []
    assert list(body) == ["job"] and body["job"]["script"].startswith("#!/bin/bash\n")
    assert body["job"]["tres_per_node"] == "gres/gpu:a100:4" and body["job"]["required_switches"]["number"] == 1
    assert (body["job"]["minimum_nodes"], body["job"]["maximum_nodes"], body["job"]["tasks"]) == (2, 2, 2)
    assert body["job"]["environment"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def test_rest_submit_request_v0_0_38_follows_the_spec() -> None:
    spec = load("openapi_v0.0.38_slurmctld_23.02.7.json")
    validator = jsonschema.Draft7Validator(
        {"$ref": "#/components/schemas/v0.0.38_job_submission", "components": spec["components"]})
    request = build_request(make_job(resources={"workers": 2, "gpusPerWorker": 4}), Placement("x"), settings())
    body = submit_body(request, "v0.0.38")
    assert list(validator.iter_errors(body)) == []
    assert body["job"]["nodes"] == [2, 2] and body["job"]["tasks"] == 2 and body["job"]["gres"] == "gpu:4"


@pytest.mark.parametrize(
    ("version", "spec_file"),
    [("v0.0.38", "openapi_v0.0.38_slurmctld_23.02.7.json"), ("v0.0.41", "openapi_spec_v0.0.41.json"),
     ("v0.0.42", "openapi_spec_v0.0.42.json"), ("v0.0.43", "openapi_spec_v0.0.43.json"),
     ("v0.0.44", "openapi_spec_v0.0.44.json")],
)
def test_every_rest_path_the_transport_calls_is_in_the_spec(version: str, spec_file: str) -> None:
    paths = set(load(spec_file)["paths"])
    used = endpoint_paths(version)
    if version == "v0.0.38":  # that spec's paths are relative to /slurm/v0.0.38; slurmdb has its own spec
        used.pop("history")
        used = {k: v.removeprefix("/slurm/v0.0.38") for k, v in used.items()}
    assert sorted(p for p in used.values() if p not in paths) == []
