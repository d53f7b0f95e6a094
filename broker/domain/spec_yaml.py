"""Safe loading of a spec's YAML text (docs/spec.md, Limits).

``load_spec_document(text)`` returns the decoded document or raises SpecError naming the field (path) and the
limit: the text size, alias uses, the size after aliases are expanded, nesting depth, duplicate keys, long
integer literals and binary values. The node graph is checked before anything is constructed, so a
billion-laughs document costs a walk bounded by the limits, never its expanded size.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dualtrack.broker.domain.limits import (
    MAX_EXPANDED_BYTES,
    MAX_INT_DIGITS,
    MAX_SPEC_BYTES,
    MAX_YAML_ALIASES,
    MAX_YAML_DEPTH,
    quote,
    utf8_size,
)
from dualtrack.broker.domain.spec_errors import FieldIssue, SpecError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT_TAG = "tag:yaml.org,2002:int"
_REFUSED_TAGS = {"tag:yaml.org,2002:binary": "binary values are not allowed",
                 "tag:yaml.org,2002:set": "sets are not allowed",
                 "tag:yaml.org,2002:omap": "ordered maps are not allowed",
                 "tag:yaml.org,2002:pairs": "pairs are not allowed"}


def check_size(text: str) -> None:
    """Raises SpecError when the spec text is over MAX_SPEC_BYTES (checked before any parsing)."""
    if len(text) > MAX_SPEC_BYTES or utf8_size(text) > MAX_SPEC_BYTES:
        raise SpecError([FieldIssue("spec_yaml", f"is {utf8_size(text)} bytes; a spec may have at most "
                                                 f"{MAX_SPEC_BYTES} bytes")])


def load_spec_document(text: str) -> Any:
    """Parse one YAML document within the limits. Raises SpecError (malformed YAML with line:column)."""
    check_size(text)
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _Walk().check(node)
        return loader.construct_document(node)
    except SpecError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([FieldIssue("", f"malformed YAML: {where}{quote(problem, 200)[1:-1]}")]) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # a constructor's own error
        raise SpecError([FieldIssue("", f"malformed YAML: {quote(str(exc), 200)[1:-1]}")]) from None
    finally:
        loader.dispose()


class _Walk:
    """One pass over the composed node graph, following aliases (a node seen again is an alias use)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.aliases = 0
        self.expanded = 0

    def check(self, node: Node, path: str = "", depth: int = 0) -> None:
        if id(node) in self.seen:
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise SpecError([FieldIssue(path, f"more than {MAX_YAML_ALIASES} YAML alias expansions in one spec")])
        self.seen.add(id(node))
        if depth > MAX_YAML_DEPTH:
            raise SpecError([FieldIssue(path, f"nested more than {MAX_YAML_DEPTH} levels deep")])
        if node.tag in _REFUSED_TAGS:
            raise SpecError([FieldIssue(path, _REFUSED_TAGS[node.tag])])
        if isinstance(node, ScalarNode):
            self._grow(len(node.value) + 1, path)
            if node.tag == _INT_TAG and len(node.value) > MAX_INT_DIGITS:
                raise SpecError([FieldIssue(path, f"integer of {len(node.value)} digits; at most "
                                                  f"{MAX_INT_DIGITS} are allowed")])
        elif isinstance(node, SequenceNode):
            self._grow(1, path)
            for index, item in enumerate(node.value):
                self.check(item, f"{path}[{index}]", depth + 1)
        elif isinstance(node, MappingNode):
            self._grow(1, path)
            keys: set[str] = set()
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "<key>"
                child = _join(path, name)
                self.check(key, child, depth + 1)
                if isinstance(key, ScalarNode):
                    if key.value in keys and key.value != "<<":
                        raise SpecError([FieldIssue(child, "duplicate key (each key may appear once)")])
                    keys.add(key.value)
                self.check(value, child, depth + 1)

    def _grow(self, size: int, path: str) -> None:
        self.expanded += size
        if self.expanded > MAX_EXPANDED_BYTES:
            raise SpecError([FieldIssue(path, f"the spec expands to more than {MAX_EXPANDED_BYTES} bytes "
                                              "through YAML aliases")])


def _join(path: str, key: str) -> str:
    key = key if len(key) <= 64 else f"{key[:64]}..."
    return f"{path}.{key}" if path else key
