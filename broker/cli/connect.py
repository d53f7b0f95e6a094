"""How every client command of the CLI reaches the broker: through the SDK (dualtrack.client), one code path.

The options are shared by every command: ``--address`` ($DUALTRACK_ADDRESS), ``--token`` ($DUALTRACK_TOKEN),
``--tls-ca/--tls-cert/--tls-key`` ($DUALTRACK_TLS_CA/CERT/KEY). A failed call prints the broker's message and
each field violation or backend reason on stderr and exits: 2 for an invalid spec or request, 3 when the
broker cannot be reached, 1 for any other refusal (docs/cli.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from dualtrack.broker.cli.output import fail
from dualtrack.client import BrokerUnavailable, Client, DualtrackError, InvalidSpec, TLSConfig
from dualtrack.client.connection import TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV

AddressOpt = Annotated[str | None, typer.Option("--address", "-a", help="Broker address host:port "
                                                "(env DUALTRACK_ADDRESS; default 127.0.0.1:50051).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="Bearer token (env DUALTRACK_TOKEN).")]
TlsCaOpt = Annotated[Path | None, typer.Option("--tls-ca", envvar=TLS_CA_ENV, show_envvar=True,
                                               help="PEM bundle of the CA that signed the broker's certificate; "
                                                    "turns TLS on.")]
TlsCertOpt = Annotated[Path | None, typer.Option("--tls-cert", envvar=TLS_CERT_ENV, show_envvar=True,
                                                 help="Client certificate (PEM) for mutual TLS.")]
TlsKeyOpt = Annotated[Path | None, typer.Option("--tls-key", envvar=TLS_KEY_ENV, show_envvar=True,
                                                help="Client private key (PEM) for mutual TLS.")]


def exit_code(error: DualtrackError) -> int:
    if isinstance(error, InvalidSpec):
        return 2
    if isinstance(error, BrokerUnavailable):
        return 3
    return 1


def call_failed(error: DualtrackError) -> NoReturn:
    """Print a failed call (code, message, each violation/reason) and exit with its exit code."""
    fail(f"{error.code}: {error.message}", error.details, exit_code(error))


def tls_config(ca: Path | None, cert: Path | None, key: Path | None) -> TLSConfig | None:
    if ca is None and cert is None and key is None:
        return None
    try:
        return TLSConfig(ca=ca, cert=cert, key=key)
    except ValueError as exc:
        fail(str(exc).replace("TLSConfig: cert and key", "--tls-cert and --tls-key"), code=2)


@contextmanager
def broker(address: str | None = None, token: str | None = None, tls_ca: Path | None = None,
           tls_cert: Path | None = None, tls_key: Path | None = None,
           timeout: float | None = 60.0) -> Iterator[Client]:
    """An SDK client for one command; any DualtrackError raised inside becomes the CLI's error output."""
    try:
        client = Client(address, token=token, tls=tls_config(tls_ca, tls_cert, tls_key) or False, timeout=timeout)
    except ValueError as exc:  # an unreadable TLS file
        fail(str(exc).replace("TLSConfig.", "--tls-"), code=2)
    try:
        yield client
    except DualtrackError as error:
        call_failed(error)
    finally:
        client.close()
