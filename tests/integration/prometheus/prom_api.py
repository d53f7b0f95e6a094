"""The broker under test, the test's Prometheus over its HTTP API, and bounded polling."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class BrokerUnderTest:
    metrics_target: str  # host:port of /metrics
    kind: str  # "serve" (the real `dualtrack serve`) or "driver" (activity_driver.py, shaped to break SLOs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Prometheus:
    url: str

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant-query result vector of ``expr`` (raises on a PromQL error)."""
        try:
            data = self.api("query", query=expr)
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{expr}: {error.read().decode()}") from error
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else [data["result"]]
        return result


def wait_until(condition: Callable[[], Any], timeout_s: float, interval_s: float = 1.0) -> bool:
    """Poll ``condition()`` until it is truthy or ``timeout_s`` passed; returns its last value as bool."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)
