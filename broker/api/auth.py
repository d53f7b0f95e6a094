"""Who is calling: the tenant a request acts for, from its bearer token (docs/security.md).

``Authenticator.tenant(metadata)`` returns the tenant, None for an unrestricted caller (no auth configured,
or an admin token), or raises Unauthenticated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dualtrack.broker.api.errors import Unauthenticated


class Authenticator:
    def __init__(self, tokens: Mapping[str, str]):
        self._tokens = dict(tokens)

    def tenant(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
        if not self._tokens:
            return None
        headers = dict(metadata or ())
        header = str(headers.get("authorization", ""))
        token = header.removeprefix("Bearer ").strip()
        tenant = self._tokens.get(token) if token else None
        if tenant is None:
            raise Unauthenticated("missing or unknown bearer token")
        return None if tenant == "*" else tenant
