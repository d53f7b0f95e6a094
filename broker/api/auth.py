"""Who is calling: the tenant a request acts for (docs/security.md).

From a bearer token (``authorization: Bearer <token>``, exactly one such header) when ``auth.tokens`` is
configured; else, under mutual TLS, from the verified client certificate (a ``server.tls.sanTenants`` match
of one of its subject alternative names, or its subject CN). Tokens are kept only as SHA-256 hashes.

``Authenticator.tenant(metadata, peer_identity)`` returns the tenant, None for an unrestricted caller (no
authentication configured, or an admin token/certificate mapped to "*"), or raises Unauthenticated.
Building one raises ConfigError when a token file or variable cannot be read.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from dualtrack.broker.api.errors import Unauthenticated
from dualtrack.broker.config import AuthConfig, ConfigError, TlsConfig
from dualtrack.broker.domain import FieldIssue
from dualtrack.broker.domain.spec import DNS1123_LABEL, MAX_NAME

ALL_TENANTS = "*"
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] ([\x21-\x7e]{1,4096})")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _resolve(key: str) -> str:
    """The hash of the token a configuration key names. Raises ConfigError."""
    if key.startswith("sha256:"):
        return key.removeprefix("sha256:")
    if key.startswith("file:"):
        path = Path(key.removeprefix("file:"))
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise ConfigError("auth.tokens", [FieldIssue(f"auth.tokens[{key}]", f"cannot read: {exc.strerror}")]) \
                from None
    elif key.startswith("env:"):
        token = os.environ.get(key.removeprefix("env:"), "").strip()
    else:
        token = key
    if not token:
        raise ConfigError("auth.tokens", [FieldIssue(f"auth.tokens[{key}]", "names an empty token")])
    return token_hash(token)


class Authenticator:
    def __init__(self, auth: AuthConfig, tls: TlsConfig | None = None):
        self._tenants_by_hash = {_resolve(key): tenant for key, tenant in auth.tokens.items()}
        self._client_certs = tls is not None and tls.client_ca_file is not None
        self._san_tenants = dict(tls.san_tenants) if tls is not None else {}

    @property
    def required(self) -> bool:
        return bool(self._tenants_by_hash) or self._client_certs

    def tenant(self, metadata: Iterable[tuple[str, str | bytes]] | None,
               peer_identity: Mapping[str, Sequence[bytes]] | None = None) -> str | None:
        headers = [value for key, value in (metadata or ()) if key.lower() == "authorization"]
        if len(headers) > 1:
            raise Unauthenticated("more than one authorization header")
        if headers and self._tenants_by_hash:
            return self._from_token(headers[0])
        if self._client_certs:
            return self._from_certificate(peer_identity or {})
        if self._tenants_by_hash:
            raise Unauthenticated("missing bearer token (authorization: Bearer <token>)")
        return None

    def _from_token(self, header: str | bytes) -> str | None:
        text = header.decode("latin-1") if isinstance(header, bytes) else header
        match = _BEARER.fullmatch(text)
        if match is None:
            raise Unauthenticated("the authorization header must be 'Bearer <token>'")
        tenant = self._tenants_by_hash.get(token_hash(match.group(1)))
        if tenant is None:
            raise Unauthenticated("unknown bearer token")
        return None if tenant == ALL_TENANTS else tenant

    def _from_certificate(self, identity: Mapping[str, Sequence[bytes]]) -> str | None:
        for san in identity.get("x509_subject_alternative_name", ()):
            tenant = self._san_tenants.get(san.decode("utf-8", "replace"))
            if tenant is not None:
                return None if tenant == ALL_TENANTS else tenant
        names = [n.decode("utf-8", "replace") for n in identity.get("x509_common_name", ())]
        if len(names) == 1 and len(names[0]) <= MAX_NAME and DNS1123_LABEL.fullmatch(names[0]):
            return names[0]
        raise Unauthenticated("no tenant for this client certificate: its subject CN must be a tenant name "
                              "(DNS-1123 label), or a subject alternative name must be in server.tls.sanTenants")
