"""Validation of the unified job spec: every problem reported at once, each with its field path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dualtrack.broker.domain import SpecError, parse_spec, parse_spec_yaml
from dualtrack.broker.domain.quantity import format_duration, parse_duration, parse_memory

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))

BASE = {
    "apiVersion": "dualtrack/v1",
    "kind": "TrainingJob",
    "metadata": {"name": "ok"},
    "spec": {"image": "ultralytics/ultralytics:8.3.40", "yolo": {"model": "yolov8n.pt", "data": "coco8.yaml"}},
}


def with_spec(**changes: object) -> dict[str, object]:
    doc = {**BASE, "spec": {**BASE["spec"], **changes}}  # type: ignore[dict-item]
    return doc


def issues(doc: object) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(doc)
    return [str(i) for i in caught.value.issues]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    spec = parse_spec_yaml(path.read_text())
    assert spec.metadata.name


def test_three_mistakes_give_three_field_path_errors() -> None:
    doc = with_spec(resources={"workers": 0, "gpusPerWroker": 2}, timeLimit="soon")
    assert issues(doc) == [
        "spec.resources.workers: must be >= 1",
        "spec.resources.gpusPerWroker: unknown field",
        "spec.timeLimit: 'soon' is not a duration; use forms such as 90s, 30m, 24h or 1h30m",
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"metadata": {"name": "Bad_Name"}}, "metadata.name: name 'Bad_Name' is not a DNS-1123 label"),
        ({"metadata": {"name": "x" * 41}}, "metadata.name: must be at most 40 characters"),
        ({"metadata": {"name": "$(touch /tmp/pwned)"}}, "metadata.name: name '$(touch /tmp/pwned)'"),
        ({"metadata": {"name": "ok", "tenant": "a;b"}}, "metadata.tenant: tenant 'a;b' is not a DNS-1123 label"),
        ({"apiVersion": "v2"}, "apiVersion: must be one of 'dualtrack/v1'"),
        ({"kind": "Pod"}, "kind: must be one of 'TrainingJob'"),
    ],
)
def test_document_level_errors(changes: dict[str, object], expected: str) -> None:
    found = issues({**BASE, **changes})
    assert any(i.startswith(expected) for i in found), found


@pytest.mark.parametrize(
    ("spec_changes", "expected"),
    [
        ({"image": "not an image"}, "spec.image: 'not an image' is not a Docker/OCI image reference"),
        ({"image": "repo/img:tag;rm -rf /"}, "spec.image:"),
        ({"priority": "urgent"}, "spec.priority: 'urgent' is not a number or one of low, normal, high"),
        ({"priority": -5}, "spec.priority: must be >= 0"),
        ({"gang": {"minAvailable": 3}}, "spec.gang.minAvailable: 3 exceeds spec.resources.workers (1)"),
        ({"topology": {"tier": "rack"}}, "spec.topology.tier: must be one of 'node', 'switch' or 'any'"),
        ({"placement": {"track": "cloud"}}, "spec.placement.track: must be one of"),
        ({"resources": {"memoryPerWorker": "lots"}}, "spec.resources.memoryPerWorker: 'lots' is not a memory size"),
        ({"resources": {"gpuType": "A100 SXM"}}, "spec.resources.gpuType: must be a lowercase GPU model"),
        ({"env": {"1BAD": "x"}}, "spec.env: '1BAD' is not a valid environment variable name"),
        ({"yolo": {"model": "m", "data": "d", "batch": 0}}, "spec.yolo.batch: must be -1 (AutoBatch)"),
        ({"yolo": {"model": "m", "data": "d", "args": {"rm_rf": 1}}},
         "spec.yolo.args: 'rm_rf' is not an ultralytics train argument"),
        ({"yolo": {"model": "m", "data": "d", "epochs": "many"}}, "spec.yolo.epochs: must be an integer"),
        ({"yolo": None, "command": []}, "spec.command: must name a program to run"),
        ({"retry": {"maxAttempts": 0}}, "spec.retry.maxAttempts: must be >= 1"),
        ({"reroute": {"pendingTimeout": "-3m"}}, "spec.reroute.pendingTimeout:"),
    ],
)
def test_spec_field_errors(spec_changes: dict[str, object], expected: str) -> None:
    found = issues(with_spec(**spec_changes))
    assert any(i.startswith(expected) for i in found), found


def test_exactly_one_of_yolo_and_command() -> None:
    expected = ["spec: exactly one of spec.yolo or spec.command must be given"]
    assert issues(with_spec(command=["python", "train.py"])) == expected
    assert issues({**BASE, "spec": {"image": "busybox:1"}}) == expected


def test_malformed_yaml_names_line_and_column() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec_yaml("apiVersion: dualtrack/v1\nspec: [1,\n  2")
    assert re.match(r"malformed YAML: line [34], column \d+: ", str(caught.value)), caught.value


def test_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        parse_spec_yaml("- just\n- a list\n")


def test_defaults_and_named_priority() -> None:
    spec = parse_spec(with_spec(priority="high"))
    assert spec.spec.priority == 1000 and spec.spec.priority_class == "high"
    assert spec.spec.resources.workers == 1 and spec.spec.resources.gpus_per_worker == 1
    assert spec.spec.min_available == 1
    assert spec.spec.time_limit == 24 * 3600
    assert parse_spec(with_spec(priority=150)).spec.priority_class == "normal"
    assert parse_spec(with_spec(priority=5)).spec.priority_class == "low"


def test_canonical_dict_round_trips() -> None:
    spec = parse_spec_yaml(EXAMPLES[0].read_text())
    assert parse_spec(spec.to_dict()) == spec


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2d", 172800),
                                                ("01:00:05", 3605), (45, 45), ("120", 120)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_format_duration_inverts_parse() -> None:
    for seconds in (1, 59, 60, 3600, 5400, 90061):
        assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(("text", "size"), [("64Gi", 64 * 1024**3), ("512Mi", 512 * 1024**2), ("1G", 10**9),
                                             (2048, 2048), ("1.5Gi", int(1.5 * 1024**3))])
def test_memory(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize(("value", "message"), [
    ("soon", "'soon' is not a duration; use forms such as 90s, 30m, 24h or 1h30m"),
    ("1h 30m", "'1h 30m' is not a duration; use forms such as 90s, 30m, 24h or 1h30m"),
    ("0", "must be a positive duration"),
    ("00:00:00", "must be a positive duration"),
    ("0.4s", "must be a positive duration"),
    (-5, "must be a positive duration"),
    (float("inf"), "must be a finite duration"),
    ("9" * 400 + "d", "is 401 characters; a duration such as 30m, 24h or 1h30m has a few"),
    (True, "must be a duration such as 30m, 24h or 1h30m"),
    (None, "must be a duration such as 30m, 24h or 1h30m"),
])
def test_duration_refusals_say_why_every_time(value: object, message: str) -> None:
    for _ in range(2):  # the second time from parse_duration's cache of texts, which must not keep refusals
        with pytest.raises(ValueError) as raised:
            parse_duration(value)  # type: ignore[arg-type]
        assert str(raised.value) == message


def test_a_command_line_over_the_limit_is_refused_with_its_quoted_size() -> None:
    words = ["a" * 50_000, "b'c" * 16_000]  # quoted: 50,000 + 1 and 2 + 16,000 * 7 + 1 bytes
    assert issues(with_spec(yolo=None, command=words)) == [
        "spec.command: the command line is 162004 bytes once quoted; at most 98304 fit the one argument a Slurm "
        "task runs it from"]


def test_a_command_line_whose_rough_bound_exceeds_the_limit_but_fits_is_accepted() -> None:
    words = ["a" * 48_000, "é" * 20_000]  # at most 4 bytes a character and 5 for a quote: looked at exactly
    assert parse_spec(with_spec(yolo=None, command=words)).spec.command == words
