"""An in-process broker API server (tests/inprocess.py) per test, and spec texts to send it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.inprocess import InProcessBroker

REPO = Path(__file__).resolve().parents[3]
SPEC = (REPO / "examples" / "yolo-1gpu.yaml").read_text()  # tenant vision-rnd, one GPU


def spec_text(name: str = "probe", tenant: str = "vision-rnd", **replace: str) -> str:
    text = SPEC.replace("name: yolo-coco8-1gpu", f"name: {name}").replace("tenant: vision-rnd", f"tenant: {tenant}")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., InProcessBroker]]:
    started: list[InProcessBroker] = []

    def make(extra: dict[str, Any] | None = None) -> InProcessBroker:
        folder = tmp_path / f"broker-{len(started)}"
        folder.mkdir()
        broker = InProcessBroker(folder, extra).start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def server(make_server: Callable[..., InProcessBroker]) -> InProcessBroker:
    return make_server()
