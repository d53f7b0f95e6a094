"""Hostile spec documents found by an outside probe: each is refused with a field path and a short message,
never an uncaught error (docs/spec.md, Limits)."""

from __future__ import annotations

import pytest

from dualtrack.broker.domain import SpecError, parse_spec_yaml
from dualtrack.broker.domain.limits import MAX_ARG_BYTES, MAX_COMMAND_LINE_BYTES, MAX_SPEC_BYTES

HEAD = """apiVersion: dualtrack/v1
kind: TrainingJob
metadata: {name: probe, tenant: vision-qa}
spec:
  image: ultralytics/ultralytics:8.3.40
"""
YOLO = "  yolo: {model: yolov8n.pt, data: coco8.yaml}\n"


def refused(text: str) -> list[tuple[str, str]]:
    """Parse ``text``; it must be refused with SpecError (nothing else); returns (path, message) pairs."""
    with pytest.raises(SpecError) as caught:
        parse_spec_yaml(text)
    issues = [(i.path, i.message) for i in caught.value.issues]
    assert issues
    for _path, message in issues:
        assert len(message) < 400, message[:500]
    return issues


def paths(text: str) -> list[str]:
    return [p for p, _ in refused(text)]


def test_the_probe_document_is_valid() -> None:
    parse_spec_yaml(HEAD + YOLO)


# -- alias amplification ---------------------------------------------------------------------------
def test_an_anchor_repeated_through_aliases_is_refused_before_expansion() -> None:
    big = "x" * (1024 * 1024 - 20_000)
    text = HEAD + "  command: [echo, &b " + big + ", " + ", ".join(["*b"] * 200) + "]\n"
    assert len(text) <= MAX_SPEC_BYTES
    (path, message), = refused(text)
    assert path.startswith("spec.command[")
    assert "expands to more than" in message or "alias" in message


def test_many_small_aliases_are_refused_by_count() -> None:
    text = HEAD + "  command: [echo, &b x, " + ", ".join(["*b"] * 500) + "]\n"
    (_path, message), = refused(text)
    assert "alias" in message


def test_nested_laughs_are_refused() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    refused("\n".join(lines) + "\n")


def test_a_document_over_the_size_limit_is_refused_by_its_size() -> None:
    (path, message), = refused(HEAD + YOLO + "# " + "x" * MAX_SPEC_BYTES + "\n")
    assert path == "spec_yaml" and str(MAX_SPEC_BYTES) in message


# -- uncaught errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["[1, 2]", "{a: 1}", "1.5e3", "null", "2024-01-01", ".inf", "-.inf", ".nan",
                                   "1e400", "!!binary aGVsbG8=", "true"])
@pytest.mark.parametrize("field", ["timeLimit", "reroute: {pendingTimeout: %s}", "resources: {memoryPerWorker: %s}"])
def test_non_string_quantities_are_field_errors(field: str, value: str) -> None:
    if value == "null" and "pendingTimeout" in field:
        return  # null is "no pending timeout"
    line = f"  {field % value}\n" if "%s" in field else f"  {field}: {value}\n"
    found = refused(HEAD + YOLO + line)
    expected = {"timeLimit": "spec.timeLimit", "reroute": "spec.reroute.pendingTimeout",
                "resources": "spec.resources.memoryPerWorker"}[field.split(":")[0]]
    assert [p for p, _ in found] == [expected] or value == "null" or "binary" in value, found
    if "binary" in value:
        assert found[0][1] == "binary values are not allowed"


@pytest.mark.parametrize("text", ["1e400Ti", "99999999999999999999999999999Ti", "1" * 60 + "Gi"])
def test_overflowing_memory_sizes_are_field_errors(text: str) -> None:
    assert paths(HEAD + YOLO + f"  resources: {{memoryPerWorker: {text}}}\n") == ["spec.resources.memoryPerWorker"]


def test_an_integer_of_thousands_of_digits_is_refused_by_the_loader() -> None:
    (path, message), = refused(HEAD + YOLO + "  priority: " + "9" * 5000 + "\n")
    assert path == "spec.priority" and "digits" in message


def test_unhashable_and_non_string_keys_are_field_errors() -> None:
    refused(HEAD + YOLO + "  env: {[a]: b}\n")
    refused("1: 2\n" + HEAD)


# -- long values are quoted short ------------------------------------------------------------------
@pytest.mark.parametrize("line", ["  image: " + "A" * 20_000, "  priority: " + "p" * 20_000,
                                  "  env: {" + "K-" * 5000 + ": v}", "  datasets: [" + "D" * 20_000 + "]"])
def test_messages_never_echo_a_whole_long_value(line: str) -> None:
    text = HEAD.replace("  image: ultralytics/ultralytics:8.3.40\n", "  image: ultralytics/ultralytics:8.3.40\n"
                        if not line.startswith("  image") else "") + YOLO + line + "\n"
    for path, message in refused(text):
        assert len(path) < 200 and len(message) < 400


# -- full matches ----------------------------------------------------------------------------------
@pytest.mark.parametrize("line,path", [
    ('metadata: {name: "probe\\n", tenant: vision-qa}', "metadata.name"),
    ('metadata: {name: probe, tenant: "vision-qa\\n"}', "metadata.tenant"),
    ('metadata: {name: probe, labels: {"k\\n": v}}', "metadata.labels"),
    ('metadata: {name: probe, labels: {k: "v\\n"}}', "metadata.labels"),
])
def test_a_trailing_newline_is_not_a_valid_name(line: str, path: str) -> None:
    text = HEAD.replace("metadata: {name: probe, tenant: vision-qa}", line) + YOLO
    assert paths(text) == [path]


@pytest.mark.parametrize("line,path", [
    ('  env: {"FOO\\n": bar}', "spec.env"),
    ('  datasets: ["weld\\n"]', "spec.datasets"),
    ('  resources: {gpuType: "a100\\n"}', "spec.resources.gpuType"),
    ('  yolo: {model: "yolov8n.pt\\n", data: coco8.yaml}', "spec.yolo.model"),
])
def test_trailing_newlines_in_spec_fields(line: str, path: str) -> None:
    yolo = "" if "yolo" in line else YOLO
    assert paths(HEAD + yolo + line + "\n") == [path]


def test_an_image_with_a_trailing_newline_is_refused() -> None:
    text = HEAD.replace("image: ultralytics/ultralytics:8.3.40", 'image: "ultralytics/ultralytics:8.3.40\\n"')
    assert paths(text + YOLO) == ["spec.image"]


# -- specs that could never run ----------------------------------------------------------------------
def test_a_nul_byte_in_yolo_resume_is_refused() -> None:
    assert paths(HEAD + '  yolo: {model: m.pt, data: d.yaml, resume: "ck\\0pt"}\n') == ["spec.yolo.resume"]


def test_one_argument_over_the_kernel_limit_is_refused() -> None:
    parse_spec_yaml(HEAD + f"  command: [echo, {'a' * 90_000}]\n")
    (path, message), = refused(HEAD + f"  command: [echo, {'a' * (MAX_ARG_BYTES + 1)}]\n")
    assert path == "spec.command" and "kernel" in message


def test_a_command_line_too_long_for_one_slurm_task_argument_is_refused() -> None:
    # each argument fits the kernel, but the Slurm task gets the whole quoted line as one bash -c argument
    (path, message), = refused(HEAD + f"  command: [echo, {', '.join(['a' * 40_000] * 3)}]\n")
    assert path == "spec.command" and str(MAX_COMMAND_LINE_BYTES) in message
    quotes = "'" * 30_000  # 30,000 bytes that quote to 150,000
    (path, _), = refused(HEAD + f'  yolo: {{model: m.pt, data: "{quotes}"}}\n')
    assert path == "spec.yolo"


def test_one_environment_value_over_the_kernel_limit_is_refused() -> None:
    (path, _), = refused(HEAD + YOLO + f"  env: {{BIG: {'a' * MAX_ARG_BYTES}}}\n")
    assert path == "spec.env"


def test_an_absurd_time_limit_is_refused() -> None:
    (path, message), = refused(HEAD + YOLO + "  timeLimit: 1000000000000000000000000000000s\n")
    assert path == "spec.timeLimit" and "at most" in message
    assert paths(HEAD + YOLO + "  timeLimit: 400d\n") == ["spec.timeLimit"]


def test_duplicate_keys_are_refused_not_overwritten() -> None:
    (path, message), = refused(HEAD + YOLO + "  timeLimit: 1h\n  timeLimit: 2h\n")
    assert path == "spec.timeLimit" and "duplicate" in message
    assert paths(HEAD + "  yolo: {model: a.pt, model: b.pt, data: d}\n") == ["spec.yolo.model"]


@pytest.mark.parametrize("field", ["resources: {workers: true}", "resources: {gpusPerWorker: false}",
                                   "retry: {maxAttempts: true}", "gang: {minAvailable: true}"])
def test_booleans_are_not_counts(field: str) -> None:
    (path, message), = refused(HEAD + YOLO + f"  {field}\n")
    assert "true/false" in message, (path, message)


def test_yolo_numbers_are_finite() -> None:
    assert paths(HEAD + "  yolo: {model: m.pt, data: d, batch: .nan}\n") == ["spec.yolo.batch"]
    assert paths(HEAD + "  yolo: {model: m.pt, data: d, args: {lr0: .inf}}\n") == ["spec.yolo.args"]
