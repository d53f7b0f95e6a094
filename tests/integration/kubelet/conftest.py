"""Fixtures of the process kubelet tests: a Kubernetes API simulator whose nodes run pods as processes
(``run: process``, see process_sim.py) and the broker (``dualtrack serve`` as a process, Kubernetes track only).

Skips with the package name when bubblewrap is absent (``scripts/setup.sh`` installs it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.kubelet.process_sim import ProcessSim, start_process_sim
from tests.integration.lifecycle.cluster import Broker, Client, broker_config, free_port


@pytest.fixture(scope="session")
def bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("the process kubelet needs bwrap (Debian package bubblewrap; scripts/setup.sh installs it)")


@pytest.fixture
def process_sim(tmp_path: Path, bwrap: None) -> Iterator[ProcessSim]:
    handle = start_process_sim(tmp_path)
    try:
        yield handle
    finally:
        handle.sim.stop()


@pytest.fixture
def kube_broker(tmp_path: Path, process_sim: ProcessSim) -> Iterator[Client]:
    """A broker with the Kubernetes track only (the process simulator); maxRetry 1: failures reach it at once."""
    config = broker_config(port=free_port(), store_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}",
                           kubeconfig=process_sim.kubeconfig, slurm=False, kube_settings={"maxRetry": 1})
    broker = Broker(config, tmp_path, "broker")
    broker.start()
    client = Client([broker.address])
    try:
        yield client
    finally:
        client.close()
        broker.stop()
