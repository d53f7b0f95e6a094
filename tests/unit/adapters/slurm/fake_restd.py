"""A canned slurmrestd for unit tests: serves fixed (status, content type, body) per path on 127.0.0.1:0.

Raw HTTP captures (``curl -i`` output, ``*.http`` fixtures) are replayed as they were recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Canned:
    status: int
    body: bytes
    content_type: str = "application/json"

    @staticmethod
    def json(doc: Any, status: int = 200) -> Canned:
        return Canned(status, json.dumps(doc).encode())

    @staticmethod
    def capture(path: Path) -> Canned:
        """A ``curl -i`` capture: status line, headers, blank line, body."""
        head, _, body = path.read_bytes().replace(b"\r\n", b"\n").partition(b"\n\n")
        lines = head.decode().splitlines()
        status = int(lines[0].split()[1])
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return Canned(status, body, headers.get("Content-Type", "application/octet-stream"))


@dataclass
class FakeRestd:
    routes: dict[str, Canned] = field(default_factory=dict)  # "GET /slurm/v0.0.44/ping/" -> answer
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, JSON body)
    url: str = ""

    def answer(self, method: str, path: str, body: Any) -> Canned:
        self.requests.append((method, path, body))
        found = self.routes.get(f"{method} {path}") or self.routes.get(f"{method} {path.rstrip('/')}/")
        return found or Canned(404, b"Not Found", "text/plain")


@contextmanager
def fake_restd(routes: dict[str, Canned] | None = None) -> Iterator[FakeRestd]:
    state = FakeRestd(dict(routes or {}))

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            canned = state.answer(self.command, self.path, json.loads(raw) if raw else None)
            self.send_response(canned.status)
            self.send_header("Content-Type", canned.content_type)
            self.send_header("Content-Length", str(len(canned.body)))
            self.end_headers()
            self.wfile.write(canned.body)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
