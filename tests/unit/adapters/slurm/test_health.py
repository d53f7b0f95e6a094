"""slurmctld health from ping/diag (REST, every version), ``scontrol ping`` / ``sdiag`` (CLI), and what the backend
and the metrics make of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dualtrack.adapters.base import BackendUnavailable
from dualtrack.adapters.slurm.backend import SlurmBackend
from dualtrack.adapters.slurm.cli import CliTransport
from dualtrack.adapters.slurm.health import health_from_ping, health_from_scontrol_ping, sdiag_statistics, with_diag
from dualtrack.adapters.slurm.rest import RestTransport
from dualtrack.adapters.slurm.settings import RestSettings
from dualtrack.adapters.slurm.transport import CommandResult
from dualtrack.broker.domain import ClusterSnapshot
from dualtrack.broker.metrics import BrokerMetrics

from .conftest import FIXTURES, load, settings
from .fake_restd import Canned, fake_restd
from .test_backend import ScriptedTransport

CAPTURED = FIXTURES / "22.05.8"


@pytest.mark.parametrize("version", ["v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44"])
def test_rest_ping_and_diag_of_every_version(version: str, tmp_path: Path) -> None:
    token = tmp_path / "jwt"
    token.write_text("t")
    routes = {f"GET /slurm/{version}/ping/": Canned.json(load(f"{version}/ping.json")),
              f"GET /slurm/{version}/diag/": Canned.json(load(f"{version}/diag.json"))}
    with fake_restd(routes) as server:
        health = RestTransport(RestSettings(url=server.url, token_file=str(token), api_version=version)).controller()
    assert health.up and health.controllers == (("ctl1", True), ("ctl2", False))
    assert health.latency_s == pytest.approx(0.00183)  # 1830 microseconds from the answer
    assert (health.schedule_last_cycle_s, health.backfill_last_cycle_s) == (pytest.approx(494e-6),
                                                                             pytest.approx(1170e-6))
    assert (health.backfill_mean_cycle_s, health.backfill_last_depth) == (pytest.approx(5928e-6), 7)
    assert (health.server_threads, health.agent_queue) == (3, 0)


def test_rest_ping_and_diag_captured_on_22_05(tmp_path: Path) -> None:
    token = tmp_path / "jwt"
    token.write_text("t")
    routes = {"GET /slurm/v0.0.38/ping/": Canned.capture(CAPTURED / "rest_ping_v0.0.38.http"),
              "GET /slurm/v0.0.38/diag/": Canned.capture(CAPTURED / "rest_diag_v0.0.38.http")}
    with fake_restd(routes) as server:
        health = RestTransport(RestSettings(url=server.url, token_file=str(token), api_version="v0.0.38")).controller()
    assert health.up and health.controllers == (("vm", True),)
    assert health.latency_s is not None and health.latency_s > 0  # no latency field in v0.0.38: round trip
    assert health.backfill_last_cycle_s == pytest.approx(1170e-6) and health.schedule_mean_cycle_s is not None


def test_a_down_ping_is_not_up() -> None:
    doc = load("v0.0.44/ping.json")
    for item in doc["pings"]:
        item["responding"] = False
    health = health_from_ping(doc, 0.5)
    assert not health.up and health.latency_s is None
    assert not health_from_ping({"pings": [{"hostname": "vm", "ping": "DOWN"}]}).up  # v0.0.38 words


class Runner:
    def __init__(self, answers: dict[str, CommandResult]):
        self.answers = answers

    def run(self, argv: list[str], stdin: str | None = None) -> CommandResult:
        return self.answers.get(" ".join(argv), CommandResult(1, "", "unknown command"))

    def close(self) -> None:
        return None


def test_cli_scontrol_ping_and_sdiag_captured_on_22_05() -> None:
    ping = (CAPTURED / "scontrol_ping.txt").read_text()
    sdiag = (CAPTURED / "sdiag.txt").read_text()
    health = CliTransport(Runner({"scontrol ping": CommandResult(0, ping, ""),
                                  "sdiag": CommandResult(0, sdiag, "")})).controller()
    assert health.up and health.controllers == (("vm", True),) and health.latency_s is not None
    assert (health.schedule_last_cycle_s, health.backfill_last_cycle_s, health.backfill_last_depth) == (
        pytest.approx(494e-6), pytest.approx(1170e-6), 7)
    assert sdiag_statistics(sdiag)["bf_cycle_mean"] == 5928 and sdiag_statistics(sdiag)["schedule_cycle_mean"] == 338


def test_cli_ping_down_and_unreachable() -> None:
    down = "Slurmctld(primary) at vm is DOWN\n"
    health = CliTransport(Runner({"scontrol ping": CommandResult(1, down, "")})).controller()
    assert not health.up and health.controllers == (("vm", False),)
    with pytest.raises(BackendUnavailable, match="scontrol ping"):
        CliTransport(Runner({"scontrol ping": CommandResult(1, "", "scontrol: error: munge")})).controller()


def test_backend_snapshot_carries_health_and_is_down_when_the_ping_is() -> None:
    transport = ScriptedTransport()
    backend = SlurmBackend("s", settings(), transport)
    snap = backend.snapshot()
    assert snap.controller is not None and snap.controller.up and snap.controller.backfill_last_depth == 7
    transport.ping_text = "Slurmctld(primary) at vm is DOWN\nSlurmctld(backup) at vm2 is DOWN\n"
    with pytest.raises(BackendUnavailable, match="vm DOWN, vm2 DOWN"):
        backend.snapshot()


def test_controller_metrics() -> None:
    metrics = BrokerMetrics()
    transport = ScriptedTransport()
    snap = SlurmBackend("s", settings(), transport).snapshot()
    metrics.observe_snapshot(snap)
    value = metrics.registry.get_sample_value
    assert value("dualtrack_backend_controller_up", {"backend": "s", "host": "vm"}) == 1.0
    assert value("dualtrack_backend_controller_latency_seconds", {"backend": "s"}) == pytest.approx(0.002)
    assert value("dualtrack_backend_scheduler_cycle_seconds",
                 {"backend": "s", "scheduler": "backfill", "stat": "last"}) == pytest.approx(1170e-6)
    assert value("dualtrack_backend_scheduler_cycle_seconds",
                 {"backend": "s", "scheduler": "main", "stat": "mean"}) == pytest.approx(338e-6)
    metrics.observe_snapshot(ClusterSnapshot.down("s", "slurm", 2.0, "slurmctld does not answer its ping"))
    assert value("dualtrack_backend_controller_up", {"backend": "s", "host": "vm"}) == 0.0
    assert value("dualtrack_backend_up", {"backend": "s"}) == 0.0
    down = with_diag(health_from_scontrol_ping("Slurmctld(primary) at vm is DOWN"), {})
    assert not down.up and down.backfill_last_cycle_s is None
