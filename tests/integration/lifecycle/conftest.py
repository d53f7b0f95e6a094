"""Fixtures of the lifecycle tests: the local Slurm cluster (skip with a clear message when it does not
answer), an in-process Kubernetes API simulator, and brokers as processes (stopped at the end, always)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.lifecycle.cluster import (
    SLURM_SKIP,
    Broker,
    SimHandle,
    broker_config,
    free_port,
    slurm_env,
    start_sim,
)


@pytest.fixture(scope="session")
def slurm() -> dict[str, str]:
    env = slurm_env()
    if env is None:
        pytest.skip(SLURM_SKIP)
    return env


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimHandle]:
    handle = start_sim(tmp_path, run_seconds=1.0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """make(store_url=..., kubeconfig=..., name=..., **broker_config keywords) -> a started Broker."""
    made: list[Broker] = []

    def make(*, name: str = "broker", start: bool = True, **options: Any) -> Broker:
        options.setdefault("store_url", f"sqlite:///{tmp_path / 'jobs.sqlite'}")
        options.setdefault("kubeconfig", None)
        broker = Broker(broker_config(port=free_port(), **options), tmp_path, name)
        made.append(broker)
        if start:
            broker.start()
        return broker

    yield make
    for broker in made:
        broker.kill9()
