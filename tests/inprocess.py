"""A broker API server in this process, on its own event loop thread, with in-memory backends and a SQLite
file: what the API, fuzz, TLS and bench tests talk to over a real loopback socket.

    with InProcessBroker(tmp_path, extra={"auth": {...}}) as broker:
        stub = broker.stub()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from dualtrack.broker.api.server import BoundServer, start_server
from dualtrack.broker.config import parse_config
from dualtrack.broker.context import BrokerContext, build_context
from dualtrack.v1 import broker_pb2_grpc as pb_grpc


def broker_config(folder: Path, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """In-memory backends of both tracks, no reconciler, no metrics endpoint."""
    config: dict[str, Any] = {
        "server": {"address": "127.0.0.1:0"},
        "metrics": {"port": None},
        "store": {"url": f"sqlite:///{folder / 'jobs.sqlite'}"},
        "reconciler": {"enabled": False},
        "backends": [
            {"name": "slurm-a", "kind": "inmemory", "settings": {"track": "slurm", "nodes": 8, "gpusPerNode": 8}},
            {"name": "kube-a", "kind": "inmemory",
             "settings": {"track": "kubernetes", "nodes": 8, "gpusPerNode": 8}},
        ],
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


class InProcessBroker:
    """Start with ``start()`` or ``with``; ``address`` is host:port; ``stop()`` ends the loop thread."""

    def __init__(self, folder: Path, extra: Mapping[str, Any] | None = None):
        self.ctx: BrokerContext = build_context(parse_config(broker_config(folder, extra)))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="inprocess-broker", daemon=True)
        self.bound: BoundServer | None = None

    @property
    def address(self) -> str:
        assert self.bound is not None
        return f"127.0.0.1:{self.bound.port}"

    def start(self) -> InProcessBroker:
        self._thread.start()
        self.bound = asyncio.run_coroutine_threadsafe(start_server(self.ctx), self.loop).result(30)
        return self

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop (e.g. to block it in a test) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def channel(self, **options: Any) -> grpc.Channel:
        return grpc.insecure_channel(self.address, options=list(options.items()))

    def stub(self, channel: grpc.Channel) -> pb_grpc.BrokerStub:
        return pb_grpc.BrokerStub(channel)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self.bound is not None:
            asyncio.run_coroutine_threadsafe(self.bound.stop(0.5), self.loop).result(30)
            self.bound = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.ctx.close()
        self.loop.close()

    def __enter__(self) -> InProcessBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
