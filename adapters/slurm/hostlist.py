"""Slurm host lists: ``n[1-3,5]``, ``gpu[01-02]-ib,login1`` -> names. Pure; used by parsers and topology."""

from __future__ import annotations

import re

_BRACKET = re.compile(r"\[([^\]]*)\]")


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _expand_one(item: str) -> list[str]:
    match = _BRACKET.search(item)
    if match is None:
        return [item]
    head, tail = item[: match.start()], item[match.end():]
    out: list[str] = []
    for rng in match.group(1).split(","):
        low, _, high = rng.partition("-")
        if not high:
            values = [low]
        else:
            width = len(low) if low.startswith("0") else 0
            values = [str(i).zfill(width) for i in range(int(low), int(high) + 1)]
        for value in values:
            out.extend(_expand_one(head + value + tail))
    return out


def expand_hostlist(text: str | None) -> list[str]:
    """Expand a Slurm host list expression; '' / None / '(null)' / 'None assigned' give []."""
    if not text or text in ("(null)", "None assigned", "N/A"):
        return []
    names: list[str] = []
    for item in _split_top(text):
        names.extend(_expand_one(item))
    return names
