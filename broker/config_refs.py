"""Secret references in the broker configuration (docs/configuration.md, "References").

Any string value may hold ``${NAME}`` (replaced by the environment variable NAME) or ``${file:/path}`` (replaced
by the file's content without its trailing newline), so credentials such as ``store.url`` can come from a
mounted Kubernetes Secret or the environment instead of the file itself. ``$${`` writes a literal ``${``.

Caller: ``broker.config.parse_config``, before validation. ``resolve_references(data)`` returns the resolved copy
and one FieldIssue per reference that cannot be resolved (unset variable, unreadable file), with its path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dualtrack.broker.domain.spec_errors import FieldIssue

REFERENCE = re.compile(r"\$\$\{|\$\{(file:)?([^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve_references(data: Any, environ: Mapping[str, str] | None = None) -> tuple[Any, list[FieldIssue]]:
    """Resolve every ``${...}`` in the string values of ``data`` (mappings and lists walked; keys untouched)."""
    issues: list[FieldIssue] = []
    resolved = _walk(data, "", os.environ if environ is None else environ, issues)
    return resolved, issues


def _walk(value: Any, path: str, environ: Mapping[str, str], issues: list[FieldIssue]) -> Any:
    if isinstance(value, Mapping):
        return {k: _walk(v, f"{path}.{k}" if path else str(k), environ, issues) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, f"{path}[{i}]", environ, issues) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _substitute(value, path, environ, issues)
    return value


def _substitute(text: str, path: str, environ: Mapping[str, str], issues: list[FieldIssue]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        is_file, target = match.group(1) is not None, match.group(2)
        if is_file:
            try:
                return Path(target).read_text().rstrip("\n")
            except OSError as exc:
                issues.append(FieldIssue(path, f"cannot read {target} for ${{file:...}}: {exc.strerror or exc}"))
                return ""
        if not ENV_NAME.fullmatch(target):
            issues.append(FieldIssue(path, f"${{{target}}} is not an environment variable name"))
            return ""
        if target not in environ:
            issues.append(FieldIssue(path, f"environment variable {target} is not set"))
            return ""
        return environ[target]

    return REFERENCE.sub(one, text)
