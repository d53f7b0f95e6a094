"""A REST submission carries what the CLI's sbatch script carries: every ``#SBATCH`` directive of every example,
rendered for every supported slurmrestd API version, has its counterpart in the REST job description (field
by field), and the REST body has no field the script lacks. Also: the API version pick (``auto``) and the
priority mapping, which adds directives of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dualtrack.adapters.base import BackendUnavailable
from dualtrack.adapters.slurm.render import build_request, script_text
from dualtrack.adapters.slurm.rest import RestTransport, offered_versions, pick_version, submit_body
from dualtrack.adapters.slurm.settings import REST_API_VERSIONS, RestSettings
from dualtrack.broker.domain import Job, Placement, parse_spec_yaml

from .conftest import DIGEST, FIXTURES, load, settings
from .fake_restd import Canned, fake_restd

EXAMPLES = sorted((FIXTURES.parents[2] / "examples").glob("*.yaml"))
SPECS = {"v0.0.38": "openapi_v0.0.38_slurmctld_23.02.7.json", "v0.0.41": "openapi_spec_v0.0.41.json",
         "v0.0.42": "openapi_spec_v0.0.42.json", "v0.0.43": "openapi_spec_v0.0.43.json",
         "v0.0.44": "openapi_spec_v0.0.44.json"}
SITE = settings(qos="normal", accounts={"vision-qa": "acct_vision", "vision": "acct_vision"},
                gpuTypes={"a100": "nvidia_a100"}, priorityNice={"low": 100},
                priorityQos={"high": "gpu_high"})


def _number(version: str, value: int) -> Any:
    return value if version == "v0.0.38" else {"set": True, "infinite": False, "number": value}


def counterpart(directive: str, version: str) -> dict[str, Any]:
    """The REST job fields one ``#SBATCH`` directive becomes; KeyError for a directive with none (a new
    directive must be given its REST field here and in rest.job_description)."""
    key, _, value = directive.removeprefix("--").partition("=")
    v38 = version == "v0.0.38"
    if key == "nodes":
        count = int(value)
        return {"nodes": [count, count]} if v38 else {"minimum_nodes": count, "maximum_nodes": count}
    if key == "gres":
        return {"gres": value} if v38 else {"tres_per_node": "gres/" + value}
    if key == "mem":
        return {"memory_per_node": _number(version, int(value.removesuffix("M")))}
    if key == "time":
        return {"time_limit": _number(version, int(value))}
    if key == "switches":
        if v38:  # no such field in v0.0.38: SlurmBackend lists Feature.TOPOLOGY_SWITCH as unsupported there
            return {}
        count, _, wait = value.partition("@")
        return {"required_switches": _number(version, int(count)), **({"wait_for_switch": int(wait) * 60}
                                                                        if wait else {})}
    plain = {"job-name": ("name", str), "comment": ("comment", str), "partition": ("partition", str),
             "qos": ("qos", str), "account": ("account", str), "ntasks-per-node": ("tasks_per_node", int),
             "cpus-per-task": ("cpus_per_task", int), "output": ("standard_output", str),
             "chdir": ("current_working_directory", str), "nice": ("nice", int)}
    if key in plain:
        field, kind = plain[key]
        return {field: kind(value)}
    if key == "no-requeue":
        return {"requeue": False}
    if key == "export" and value == "NONE":  # the job starts from the fixed minimal environment only
        path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return {"environment": {"PATH": path.removeprefix("PATH=")} if v38 else [path]}
    raise KeyError(f"#SBATCH {directive} has no REST counterpart")


def _cases() -> dict[str, Job]:
    """Every example, plus the first one at priority low and high (the --nice and QoS mappings)."""
    texts = {path.stem: path.read_text() for path in EXAMPLES}
    first = EXAMPLES[0]
    for priority in ("low", "high"):
        document = yaml.safe_load(first.read_text())
        document["spec"]["priority"] = priority  # replaces the example's own priority (duplicate keys are refused)
        texts[f"{first.stem}-priority-{priority}"] = yaml.safe_dump(document)
    return {name: Job(id=f"jexample{i:05d}", spec=parse_spec_yaml(text), attempt=1, image_ref=f"x/y@{DIGEST}")
            for i, (name, text) in enumerate(texts.items())}


CASES = _cases()


@pytest.mark.parametrize("version", REST_API_VERSIONS)
@pytest.mark.parametrize("job", CASES.values(), ids=CASES.keys())
def test_rest_job_carries_every_directive_of_the_script(job: Job, version: str) -> None:
    request = build_request(job, Placement("slurm-unit"), SITE)
    body = submit_body(request, version)
    rest_job = body["job"]
    script = body["script"] if version == "v0.0.38" else rest_job["script"]
    assert script == script_text(request)
    directives = [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")]
    assert "--no-requeue" in directives
    expected: dict[str, Any] = {}
    for directive in directives:
        expected.update(counterpart(directive, version))
    assert {k: rest_job.get(k) for k in expected} == expected
    # every other field is derived from the same directives, not extra
    extra = set(rest_job) - set(expected) - {"script", "tasks"}
    assert extra == set()
    assert rest_job["tasks"] == request.nodes * request.ntasks_per_node


def test_the_cases_cover_every_optional_directive() -> None:
    seen = {d.split("=")[0] for job in CASES.values()
            for d in build_request(job, Placement("slurm-unit"), SITE).directives()}
    assert {"--nice", "--qos", "--account", "--gres", "--switches", "--no-requeue"} <= seen


@pytest.mark.parametrize("version", sorted(SPECS))
@pytest.mark.parametrize("job", CASES.values(), ids=CASES.keys())
def test_rest_body_follows_the_versions_spec(job: Job, version: str) -> None:
    spec = load(SPECS[version])
    schema = "v0.0.38_job_submission" if version == "v0.0.38" else f"{version}_job_submit_req"
    validator = jsonschema.Draft7Validator({"$ref": f"#/components/schemas/{schema}",
                                            "components": spec["components"]})
    body = submit_body(build_request(job, Placement("slurm-unit"), SITE), version)
    assert list(validator.iter_errors(body)) == []
    body["job"]["requeue"] = "no"
    assert list(validator.iter_errors(body)) != []  # the validator does check the fields


def test_an_unknown_directive_has_no_counterpart() -> None:
    with pytest.raises(KeyError):
        counterpart("--exclusive", "v0.0.44")


@pytest.mark.parametrize(("priority", "qos", "nice"),
                         [("low", "normal", 100), ("normal", "normal", None), ("high", "gpu_high", None)])
def test_priority_class_maps_to_qos_or_nice(priority: str, qos: str, nice: int | None) -> None:
    document = yaml.safe_load(EXAMPLES[0].read_text())
    document["spec"]["priority"] = priority  # replaces the example's own priority (duplicate keys are refused)
    text = yaml.safe_dump(document)
    job = Job(id="jprio0000000a", spec=parse_spec_yaml(text), attempt=1, image_ref=f"x/y@{DIGEST}")
    request = build_request(job, Placement("slurm-unit"), SITE)
    assert (request.qos, request.nice) == (qos, nice)
    assert (f"--nice={nice}" in script_text(request)) is (nice is not None)
    assert f"#SBATCH --qos={qos}\n" in script_text(request)


# ------------------------------------------------------------------------------------------ API versions
def test_offered_versions_and_pick() -> None:
    captured = load("22.05.8/openapi_v3_paths.json")
    assert offered_versions(captured) == ["v0.0.38"] and pick_version(offered_versions(captured)) == "v0.0.38"
    for version in ("v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44"):
        assert pick_version(offered_versions(load(f"openapi_spec_{version}.json"))) == version
    assert pick_version(["v0.0.40", "v0.0.43", "v0.0.45"]) == "v0.0.43"  # newest this adapter speaks
    assert pick_version(["v0.0.36"]) is None


def _auto(url: str, tmp_path: Path) -> RestTransport:
    token = tmp_path / "jwt"
    token.write_text("t")
    return RestTransport(RestSettings(url=url, token_file=str(token), api_version="auto"))


def _v3(*versions: str) -> Canned:
    return Canned.json({"paths": {f"/slurm/{v}/ping/": {} for v in versions}})


def test_auto_picks_the_newest_version_from_openapi_v3(tmp_path: Path) -> None:
    nodes = Canned.json(load("v0.0.44/nodes_mixed.json"))
    with fake_restd({"GET /openapi/v3": _v3("v0.0.42", "v0.0.43", "v0.0.44"),
                     "GET /slurm/v0.0.44/nodes/": nodes}) as server:
        rest = _auto(server.url, tmp_path)
        assert rest.api_version == "auto"
        assert [n.name for n in rest.nodes()] == ["m1", "m2"]
        assert rest.api_version == "v0.0.44"
        assert [r[1] for r in server.requests] == ["/openapi/v3", "/slurm/v0.0.44/nodes/"]


def test_auto_probes_ping_when_openapi_v3_is_missing(tmp_path: Path) -> None:
    with fake_restd({"GET /slurm/v0.0.42/ping/": Canned.json(load("v0.0.42/ping.json"))}) as server:
        rest = _auto(server.url, tmp_path)
        assert rest.resolve_version() == "v0.0.42"
        probed = [r[1] for r in server.requests]
    assert probed == ["/openapi/v3", "/slurm/v0.0.44/ping/", "/slurm/v0.0.43/ping/", "/slurm/v0.0.42/ping/"]


def test_auto_with_no_known_version_is_unavailable(tmp_path: Path) -> None:
    with fake_restd({"GET /openapi/v3": _v3("v0.0.36")}) as server, pytest.raises(BackendUnavailable,
                                                                                  match="speaks none of"):
        _auto(server.url, tmp_path).resolve_version()


def test_settings_accept_the_new_versions_and_auto() -> None:
    for version in ("v0.0.43", "v0.0.44", "auto"):
        parsed = settings(transport="rest", rest={"url": "http://h:1", "token": "t", "apiVersion": version})
        assert parsed.rest is not None and parsed.rest.api_version == version
    with pytest.raises(ValueError, match=r"priorityNice\.urgent: must be one of low, normal, high"):
        settings(priorityNice={"urgent": 1})
    with pytest.raises(ValueError, match=r"priorityQos\.high: 'a b' is not a Slurm QOS name"):
        settings(priorityQos={"high": "a b"})
