"""Server TLS credentials from ``server.tls`` (docs/security.md), re-read when the files change.

gRPC asks ``CertificateFiles.fetch`` before each new handshake; it answers a new configuration only when a
file's inode, modification time or size changed, so a renewed certificate (cert-manager, a cron job) is served to
the next connection without a restart, and a half-written file is retried on the next handshake.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import grpc

from dualtrack.broker.config import ConfigError, TlsConfig
from dualtrack.broker.domain import FieldIssue

log = logging.getLogger(__name__)


class CertificateFiles:
    def __init__(self, tls: TlsConfig):
        self._tls = tls
        self._lock = threading.Lock()
        self._stamp = self._stamps()
        self.initial = self._configuration()

    def _paths(self) -> list[Path]:
        return [p for p in (self._tls.cert_file, self._tls.key_file, self._tls.client_ca_file) if p is not None]

    def _stamps(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for path in self._paths():
            try:
                info = os.stat(path)
            except OSError as exc:
                raise ConfigError("server.tls", [FieldIssue(f"server.tls ({path})", f"cannot read: {exc.strerror}")]) \
                    from None
            stamps.append((info.st_ino, info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        tls = self._tls
        try:
            pair = (tls.key_file.read_bytes(), tls.cert_file.read_bytes())
            ca = tls.client_ca_file.read_bytes() if tls.client_ca_file is not None else None
        except OSError as exc:
            raise ConfigError("server.tls", [FieldIssue("server.tls", f"cannot read: {exc}")]) from None
        return grpc.ssl_server_certificate_configuration([pair], root_certificates=ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before a handshake: a new configuration when the files changed, else None."""
        with self._lock:
            try:
                stamp = self._stamps()
                if stamp == self._stamp:
                    return None
                configuration = self._configuration()
            except ConfigError as exc:
                log.warning("keeping the current TLS certificate: %s", exc)
                return None
            self._stamp = stamp
            log.info("TLS certificate files changed; serving the new ones to new connections")
            return configuration

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self.initial, self.fetch, require_client_authentication=self._tls.client_ca_file is not None)
