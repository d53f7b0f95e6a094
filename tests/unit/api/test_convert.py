"""proto <-> domain conversions keep every field of the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from dualtrack.broker.api.convert import backend_to_pb, spec_dict_from_pb, spec_to_pb
from dualtrack.broker.cli.output import backends_table
from dualtrack.broker.domain import ClusterSnapshot, ControllerHealth, parse_spec, parse_spec_yaml
from dualtrack.broker.handlers.inspect import BackendStatus
from dualtrack.broker.snapshots import BackendHealth

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_spec_round_trips_through_the_proto_message(path: Path) -> None:
    spec = parse_spec_yaml(path.read_text())
    assert parse_spec(spec_dict_from_pb(spec_to_pb(spec))) == spec


def test_zero_gpus_survives_the_message() -> None:
    yolo_1gpu = next(p for p in EXAMPLES if p.name == "yolo-1gpu.yaml")
    text = yolo_1gpu.read_text().replace("gpusPerWorker: 1", "gpusPerWorker: 0")
    spec = parse_spec_yaml(text)
    assert spec.spec.resources.gpus_per_worker == 0
    assert parse_spec(spec_dict_from_pb(spec_to_pb(spec))).spec.resources.gpus_per_worker == 0


def test_the_fast_message_walk_equals_json_format_for_every_example() -> None:
    from pathlib import Path

    from google.protobuf import json_format, struct_pb2

    from dualtrack.broker.api.convert import message_dict
    from dualtrack.broker.domain import parse_spec_yaml

    for example in sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml")):
        message = spec_to_pb(parse_spec_yaml(example.read_text()))
        message.spec.yolo.resume.CopyFrom(struct_pb2.Value(string_value="last.pt"))
        assert message_dict(message) == json_format.MessageToDict(message), example.name


def test_backend_status_carries_the_controller_health() -> None:
    health = ControllerHealth(up=True, latency_s=0.003, controllers=(("ctl1", True), ("ctl2", False)),
                              backfill_last_cycle_s=0.0012)
    snap = ClusterSnapshot("hpc", "slurm", 1.0, controller=health)
    message = backend_to_pb(BackendStatus("hpc", "slurm", "slurm", BackendHealth(), snap, {}))
    assert message.HasField("controller") and message.controller.up
    assert (list(message.controller.hosts_up), list(message.controller.hosts_down)) == (["ctl1"], ["ctl2"])
    assert message.controller.latency_seconds == pytest.approx(0.003)
    assert message.controller.backfill_last_cycle_seconds == pytest.approx(0.0012)
    console = Console(width=200, record=True)
    console.print(backends_table([message]))
    assert "controller 3 ms, ctl2 down" in console.export_text()
    plain = backend_to_pb(BackendStatus("k", "volcano", "kubernetes", BackendHealth(),
                                        ClusterSnapshot("k", "volcano", 1.0), {}))
    assert not plain.HasField("controller")
