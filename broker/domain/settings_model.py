"""One way to validate a settings block: a frozen pydantic model, every problem reported with its full path.

Every block of the configuration (docs/configuration.md) is a ``SettingsModel``: keys are the camelCase aliases of
the snake_case attributes, unknown keys are errors, instances are frozen (and may also be built in code by
attribute name). ``validate_block(model, data, prefix)`` validates one block and raises ``SettingsError``
listing *every* problem inside it, each path starting with ``prefix`` (``backends[1].settings.partition:
...``). Rules that involve two fields raise ``FieldValueError(field, message)`` from a model validator, so the
problem is reported at that field rather than at the block.

The annotated types below carry the checks several blocks share, with messages that name the reason.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StrictStr, ValidationError
from pydantic.alias_generators import to_camel

from dualtrack.broker.domain.spec import FieldValueError, _issue_message, _issue_path
from dualtrack.broker.domain.spec_errors import FieldIssue

__all__ = ["FieldValueError", "SettingsError", "SettingsModel", "validate_block"]

M = TypeVar("M", bound="SettingsModel")


class SettingsModel(BaseModel):
    """Base of every settings block: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel)


class SettingsError(ValueError):
    """A settings block is invalid; ``issues`` lists every problem, each with its full dotted path.

    ``str()`` joins them (``"images.maxBytes: ...; images.builder: ..."``), the first problem first."""

    def __init__(self, issues: list[FieldIssue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def validate_block(model: type[M], data: Any, prefix: str) -> M:
    """``model`` validated from ``data`` (``None`` = every default). Raises SettingsError with every problem,
    each path under ``prefix`` (an unknown key's message lists the keys known at that place)."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        raise SettingsError(block_issues(model, exc, prefix)) from None


def block_issues(model: type[BaseModel], error: ValidationError, prefix: str) -> list[FieldIssue]:
    """pydantic's errors of ``model`` as FieldIssues under ``prefix``, one per path. Unknown keys name the known
    ones; a value outside a fixed set names the set."""
    seen: dict[str, FieldIssue] = {}
    for err in error.errors():
        loc = tuple(err["loc"])
        path, message = _issue_path(loc), _issue_message(err)
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldValueError):
            path, message = f"{path}.{cause.field}" if path else cause.field, cause.message
        elif err["type"] == "extra_forbidden":
            known = _known_keys(model, loc[:-1])
            message = f"unknown key (known: {', '.join(known)})" if known else "unknown key"
        elif err["type"] == "literal_error":
            allowed = ", ".join(re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", ""))))
            if allowed:
                message = f"must be one of {allowed}" + ("" if loc[-1] == "[key]" else f" (got {err['input']!r})")
        full = _join(prefix, path)
        seen.setdefault(full, FieldIssue(full, message))
    return list(seen.values())


def _joined(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _join(prefix: str, path: str) -> str:
    # a FieldValueError may blame "[0].operator" below a list field; a bad mapping key is reported at the key
    path = path.replace(".[key]", "").replace(".[", "[")
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") or not prefix else f"{prefix}.{path}"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The aliases of the model found by following ``loc`` from ``model`` (None if it leads elsewhere)."""
    current: Any = model
    for part in loc:
        current = _inner(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return None
            current = field.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args and args[-1] is not Ellipsis else (args[0] if args else None)
    current = _inner(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or n for n, f in current.model_fields.items())
    return None


def _inner(annotation: Any) -> Any:
    """``X`` out of ``Annotated[X, ...]`` and ``X | None``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


# --- shared field types ------------------------------------------------------------------------------------


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must be a non-empty string")
    return value


NonEmptyStr = Annotated[StrictStr, AfterValidator(_non_empty)]


def matches(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    """A check for ``Annotated[StrictStr, AfterValidator(matches(pattern, what))]``: a non-empty string matching
    ``pattern``; otherwise ``'<value>' is not <what>``."""

    def check(value: str) -> str:
        if not pattern.match(_non_empty(value)):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


def one_of(*allowed: str) -> Callable[[str], str]:
    """A check for a string (a mapping key, say) from a fixed set, typed ``str`` for its readers."""

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return check


def number_value(value: Any) -> float:
    """A finite number; a numeric string counts (YAML reads ``2e12``, without a dot, as a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise ValueError("must be finite")
    return number


def _strict_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


# A finite number, numeric strings included (policies). Bounds: Annotated[Number, Field(ge=0)].
Number = Annotated[float, BeforeValidator(number_value)]
# An int or float given as such (no strings, no booleans).
StrictNumber = Annotated[float, BeforeValidator(_strict_number)]
