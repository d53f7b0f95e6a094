"""Where and how the SDK connects: address, bearer token and TLS, from arguments or the environment.

Resolution order for every setting: the argument, then the environment variable, then the default
(docs/sdk.md, "Connecting"):

    address  $DUALTRACK_ADDRESS  default 127.0.0.1:50051
    token    $DUALTRACK_TOKEN    sent as ``authorization: Bearer <token>``
    tls      $DUALTRACK_TLS_CA / $DUALTRACK_TLS_CERT / $DUALTRACK_TLS_KEY (PEM files); any of them set -> TLS
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
ADDRESS_ENV = "DUALTRACK_ADDRESS"
TOKEN_ENV = "DUALTRACK_TOKEN"
TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV = "DUALTRACK_TLS_CA", "DUALTRACK_TLS_CERT", "DUALTRACK_TLS_KEY"
# Large SubmitJobs calls (up to 1,000 specs) and their replies exceed gRPC's default 4 MiB.
MESSAGE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class TLSConfig:
    """Client side of TLS. ``ca``: PEM bundle that signs the broker's certificate (None: the system roots);
    ``cert`` + ``key``: this client's certificate and key for mutual TLS; ``server_name``: the name to check
    the broker's certificate against when it differs from the address's host."""

    ca: str | Path | None = None
    cert: str | Path | None = None
    key: str | Path | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("TLSConfig: cert and key go together (mutual TLS needs both)")

    @classmethod
    def from_env(cls) -> TLSConfig | None:
        """The TLS settings of $DUALTRACK_TLS_CA/CERT/KEY, or None when none is set."""
        ca, cert, key = (os.environ.get(n) or None for n in (TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV))
        if ca is None and cert is None and key is None:
            return None
        return cls(ca=ca, cert=cert, key=key)

    def credentials(self) -> grpc.ChannelCredentials:
        """gRPC channel credentials; raises ValueError naming a file that cannot be read."""
        return grpc.ssl_channel_credentials(root_certificates=_read(self.ca, "ca"),
                                            private_key=_read(self.key, "key"),
                                            certificate_chain=_read(self.cert, "cert"))


def _read(path: str | Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"TLSConfig.{what}: cannot read {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class Connection:
    """Resolved connection settings shared by the sync and the asyncio client."""

    address: str
    token: str | None
    tls: TLSConfig | None

    @classmethod
    def resolve(cls, address: str | None, token: str | None, tls: TLSConfig | bool | None) -> Connection:
        """``tls``: a TLSConfig, True (system roots), False (plaintext even if the environment names files),
        None (the environment decides)."""
        if tls is True:
            resolved: TLSConfig | None = TLSConfig()
        elif tls is False:
            resolved = None
        else:
            resolved = tls if tls is not None else TLSConfig.from_env()
        return cls(address or os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
                   token or os.environ.get(TOKEN_ENV) or None, resolved)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def options(self, extra: list[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [("grpc.max_send_message_length", MESSAGE_LIMIT),
                                          ("grpc.max_receive_message_length", MESSAGE_LIMIT),
                                          # reconnect quickly after a broker restart (gRPC's default backs
                                          # off up to 120 s, during which calls fail with UNAVAILABLE)
                                          ("grpc.initial_reconnect_backoff_ms", 200),
                                          ("grpc.min_reconnect_backoff_ms", 200),
                                          ("grpc.max_reconnect_backoff_ms", 2000)]
        if self.tls is not None and self.tls.server_name:
            options.append(("grpc.ssl_target_name_override", self.tls.server_name))
        return options + list(extra or [])

    def channel(self, extra: list[tuple[str, Any]] | None = None) -> grpc.Channel:
        if self.tls is None:
            return grpc.insecure_channel(self.address, options=self.options(extra))
        return grpc.secure_channel(self.address, self.tls.credentials(), options=self.options(extra))

    def aio_channel(self, extra: list[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
        if self.tls is None:
            return grpc.aio.insecure_channel(self.address, options=self.options(extra))
        return grpc.aio.secure_channel(self.address, self.tls.credentials(), options=self.options(extra))
