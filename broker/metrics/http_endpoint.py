"""``/metrics`` over HTTP for one registry, on a background thread, stoppable."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


class MetricsEndpoint:
    """Serves ``registry`` on ``host:port`` (port 0 = any free port) until ``close()``."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int):
        server, thread = start_http_server(port, addr=host, registry=registry)
        self._server: WSGIServer | None = server
        self._thread: threading.Thread | None = thread
        self.host = host
        self.port = int(server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port; safe to call more than once."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
