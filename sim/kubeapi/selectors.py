"""Kubernetes label and field selectors (the string forms a client sends in ``labelSelector``/``fieldSelector``).

``parse_label_selector(text)`` / ``parse_field_selector(text)`` return a predicate over an object dict, or raise
``ValueError`` with a message for a 400 answer. Supported: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``,
``k in (a,b)``, ``k notin (a,b)`` for labels; ``path=v``, ``path!=v`` for fields (``metadata.name``,
``metadata.namespace``, ``spec.nodeName``, ``status.phase``, any dotted path).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]
_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _term(term: str) -> Predicate:
    match = _SET.match(term)
    if match:
        key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
        if op == "in":
            return lambda o: _labels(o).get(key) in values
        return lambda o: _labels(o).get(key) not in values
    if "!=" in term:
        key, value = (s.strip() for s in term.split("!=", 1))
        return lambda o: _labels(o).get(key) != value
    if "=" in term:
        key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
        return lambda o: _labels(o).get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda o: key not in _labels(o)
    if re.fullmatch(r"[A-Za-z0-9./_-]+", term):
        return lambda o: term in _labels(o)
    raise ValueError(f"unable to parse requirement: {term!r}")


def parse_label_selector(text: str | None) -> Predicate:
    terms = [_term(t) for t in _split(text or "")]
    return lambda obj: all(t(obj) for t in terms)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    return "" if current is None else str(current)


def _field_term(path: str, value: str, negate: bool) -> Predicate:
    def check(obj: Mapping[str, Any]) -> bool:
        return (field_value(obj, path) == value) != negate

    return check


def parse_field_selector(text: str | None) -> Predicate:
    terms: list[Predicate] = []
    for term in _split(text or ""):
        negate = "!=" in term
        if not negate and "=" not in term:
            raise ValueError(f"invalid field selector: {term!r}")
        path, value = (s.strip() for s in term.replace("!=", "=").replace("==", "=").split("=", 1))
        terms.append(_field_term(path, value, negate))
    return lambda obj: all(t(obj) for t in terms)
