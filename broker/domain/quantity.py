"""Parsing of the human-friendly quantities a job spec carries: durations and memory sizes.

Pure functions, used by the spec validators (and by adapters that print them back). They raise
``ValueError`` with a message meant for a user; the spec turns it into a field-path error.
"""

from __future__ import annotations

import functools
import math
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|m|s)")
_CLOCK = re.compile(r"\d+:\d{2}:\d{2}")
_DIGITS = re.compile(r"\d+")
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}

_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$")
_MEMORY_UNITS = {
    None: 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def parse_duration(value: str | int | float) -> int:
    """Return whole seconds for ``90``, ``"90s"``, ``"30m"``, ``"1h30m"``, ``"2d"`` or ``"HH:MM:SS"``.

    Raises ValueError for anything else or for a duration that is not positive.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a duration such as 30m, 24h or 1h30m")
    if isinstance(value, str):
        if len(value) > 64:
            raise ValueError(f"is {len(value)} characters; a duration such as 30m, 24h or 1h30m has a few")
        seconds = _text_seconds(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite duration")
    else:
        seconds = int(value)
    if seconds <= 0:
        raise ValueError("must be a positive duration")
    return seconds


@functools.lru_cache(maxsize=256)
def _text_seconds(value: str) -> int:
    """Whole seconds (not yet checked to be positive) of a duration text of at most 64 characters. Cached: a
    batch of submissions repeats the same few limits (a refused text raises, and is not cached)."""
    text = value.strip()
    if _CLOCK.fullmatch(text):
        h, m, s = (int(p) for p in text.split(":"))
        return h * 3600 + m * 60 + s
    if _DIGITS.fullmatch(text):
        return int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value[:64]!r} is not a duration; use forms such as 90s, 30m, 24h or 1h30m")
    total = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    if not math.isfinite(total):
        raise ValueError("must be a finite duration")
    return int(total)


def format_duration(seconds: int) -> str:
    """Return the shortest ``1h30m``-style text for whole seconds (inverse of parse_duration)."""
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            out.append(f"{count}{unit}")
    return "".join(out) or "0s"


def parse_memory(value: str | int) -> int:
    """Return bytes for a Kubernetes-style quantity (``64Gi``, ``512Mi``, ``1G``, or plain bytes).

    Raises ValueError for anything else or for a size that is not positive.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a memory size such as 64Gi or 512Mi")
    if isinstance(value, int):
        size = value
    else:
        match = _MEMORY.fullmatch(value.strip()) if len(value) <= 64 else None
        if not match:
            raise ValueError(f"{value[:64]!r} is not a memory size; use forms such as 64Gi, 512Mi or 1G")
        amount = float(match.group(1)) * _MEMORY_UNITS[match.group(2)]
        if not math.isfinite(amount):
            raise ValueError("must be a finite memory size")
        size = int(amount)
    if size <= 0:
        raise ValueError("must be a positive memory size")
    return size
