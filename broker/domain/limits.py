"""Maximums a job spec must respect, and how a bad value is quoted in an error (docs/spec.md, Limits).

Every limit is a reason a job could never run or could hurt the broker: the kernel refuses one exec
argument or environment string over 128 KiB; gRPC clients read replies of at most 4 MiB by default; a YAML
alias can multiply a document's size without bound. Validation refuses each with the field and the limit.
"""

from __future__ import annotations

MAX_SPEC_BYTES = 1024 * 1024  # one spec document, YAML text or typed message (UTF-8 bytes)
MAX_EXPANDED_BYTES = 2 * 1024 * 1024  # the document after YAML aliases are expanded
MAX_YAML_ALIASES = 100  # alias uses (*name) in one document
MAX_YAML_DEPTH = 64  # nesting of mappings and sequences
MAX_INT_DIGITS = 30  # an integer literal longer than this is refused before Python parses it
MAX_ARG_BYTES = 128 * 1024 - 1  # one argument or KEY=value environment string (Linux MAX_ARG_STRLEN)
# The whole command line, shell-quoted: the Slurm track hands it to each task as the one argument of
# ``bash -c``, next to the container wrapper, so it must fit in one kernel argument with room to spare.
MAX_COMMAND_LINE_BYTES = 96 * 1024
MAX_TIME_LIMIT_SECONDS = 365 * 86400  # timeLimit and reroute.pendingTimeout
MAX_MEMORY_BYTES = 1024**5  # memoryPerWorker: 1 PiB
MAX_QUOTED = 80  # characters of a bad value quoted in an error message


def quote(value: object, limit: int = MAX_QUOTED) -> str:
    """``repr(value)``, cut to ``limit`` characters with the total length when longer, so an error about a
    20 KB value stays a short line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = len(value) if isinstance(value, str | bytes | list | dict) else len(text)
    return f"{text[:limit]}... ({size} characters)"


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))
