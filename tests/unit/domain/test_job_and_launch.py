"""The lifecycle table, job ids, backend object names and the command every worker runs."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from dualtrack.broker.domain import (
    TERMINAL_STATES,
    TRANSITIONS,
    JobState,
    SpecError,
    backend_object_name,
    can_transition,
    new_job_id,
    parse_backend_object_name,
    parse_spec,
)
from dualtrack.broker.domain.launch import EnvRef, launch_argv, render_kubernetes, render_shell
from dualtrack.broker.domain.spec import DNS1123_LABEL


def test_terminal_states_have_no_way_out() -> None:
    for state in TERMINAL_STATES:
        assert TRANSITIONS[state] == frozenset()


def test_every_non_terminal_state_can_be_cancelled() -> None:
    for state in JobState:
        if not state.terminal:
            assert can_transition(state, JobState.CANCELLED), state


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        (JobState.ACCEPTED, JobState.PLACED, True),
        (JobState.ACCEPTED, JobState.RUNNING, False),  # never skips dispatch
        (JobState.PLACED, JobState.SUBMITTED, True),
        (JobState.SUBMITTED, JobState.RUNNING, True),  # a fast job may be seen running at once
        (JobState.RUNNING, JobState.ACCEPTED, True),  # retry
        (JobState.RUNNING, JobState.QUEUED, False),
        (JobState.QUEUED, JobState.REROUTING, True),
        (JobState.REROUTING, JobState.PLACED, True),
        (JobState.REROUTING, JobState.RUNNING, False),
    ],
)
def test_transition_table(source: JobState, target: JobState, allowed: bool) -> None:
    assert can_transition(source, target) is allowed


def test_job_ids_are_dns_safe_unique_and_sortable() -> None:
    ids = [new_job_id(now=1_800_000_000 + i) for i in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids)
    for job_id in ids:
        assert DNS1123_LABEL.match(job_id) and len(job_id) == 13


@pytest.mark.parametrize(("now", "random", "expected"), [
    (1_765_000_000.123, b"\x12\x34\x56", "j6df4clifcd2m"),
    (0.0, b"\x00\x00\x00", "j000000000000"),
    (2**48 / 1000 - 0.001, b"\xff\xff\xff", "jvvvvvvvvvvvv"),
])
def test_job_id_digits(now: float, random: bytes, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The id is "j" and the lowest 12 base32 digits (0-9a-v) of (48-bit milliseconds << 17 | 17 random bits)."""
    monkeypatch.setattr("os.urandom", lambda n: random[:n])
    millis = int(now * 1000) & ((1 << 48) - 1)
    value = (millis << 17) | (int.from_bytes(random, "big") & ((1 << 17) - 1))
    digits = "".join("0123456789abcdefghijklmnopqrstuv"[(value >> (5 * i)) & 31] for i in reversed(range(12)))
    assert new_job_id(now) == "j" + digits == expected


def test_object_names_round_trip() -> None:
    name = backend_object_name("jabc", 3)
    assert name == "dt-jabc-3"
    assert parse_backend_object_name(name) == ("jabc", 3)
    assert parse_backend_object_name("other-job") is None
    assert parse_backend_object_name("dt-jabc-x") is None


def _spec(**spec: object):  # type: ignore[no-untyped-def]
    base = {"image": "ultralytics/ultralytics:8.3.40"}
    return parse_spec({"apiVersion": "dualtrack/v1", "kind": "TrainingJob", "metadata": {"name": "t"},
                       "spec": {**base, **spec}}).spec


def test_yolo_single_worker_uses_a_device_list() -> None:
    spec = _spec(yolo={"model": "yolov8s.yaml", "data": "weld.yaml", "epochs": 5, "imgsz": 320, "batch": 32},
                 resources={"gpusPerWorker": 4})
    assert launch_argv(spec) == ["yolo", "detect", "train", "model=yolov8s.yaml", "data=weld.yaml", "epochs=5",
                                 "imgsz=320", "batch=32", "workers=8", "device=0,1,2,3"]


def test_yolo_cpu_only_and_resume() -> None:
    spec = _spec(yolo={"model": "m.pt", "data": "d.yaml", "resume": True}, resources={"gpusPerWorker": 0})
    argv = launch_argv(spec)
    assert "device=cpu" in argv and "resume=True" in argv


def test_yolo_several_workers_are_refused_with_the_reason() -> None:
    with pytest.raises(SpecError) as err:
        _spec(yolo={"model": "m.yaml", "data": "d.yaml"}, resources={"workers": 4, "gpusPerWorker": 2})
    assert str(err.value).startswith("spec.resources.workers: a YOLO job runs on one worker")
    assert "spec.command" in str(err.value)


HOSTILE = ["$(touch /tmp/pwned)", "`touch /tmp/pwned`", "a'b\"c", "line\nbreak", "x; touch /tmp/pwned", "$HOME"]


def test_shell_rendering_passes_hostile_arguments_literally(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec(command=["printf", "%s\\n", *HOSTILE])
    script = render_shell(launch_argv(spec))
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.split("\n")[:-1] == [line for arg in HOSTILE for line in arg.split("\n")]
    assert not (tmp_path / "pwned").exists()


def test_shell_rendering_expands_only_env_refs() -> None:
    rendered = render_shell(["echo", EnvRef("NODE_RANK"), "$NODE_RANK"])
    out = subprocess.run(["bash", "-c", rendered], capture_output=True, text=True, env={"NODE_RANK": "3"}, check=True)
    assert out.stdout == "3 $NODE_RANK\n"
    assert shlex.split(rendered)[2] == "$NODE_RANK"


def test_kubernetes_rendering_escapes_literal_dollar_parens() -> None:
    assert render_kubernetes(["run", EnvRef("MASTER_ADDR"), "$(whoami)"]) == ["run", "$(MASTER_ADDR)", "$$(whoami)"]
