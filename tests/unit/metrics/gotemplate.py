"""A small Go-template renderer for the Helm chart's templates (no helm binary exists here).

Supports what charts/dualtrack uses: ``{{ pipeline }}`` with field paths, string/raw-string/number literals,
parentheses and pipes; ``if / else if / else / end``; ``define`` + ``include``; ``{{-``/``-}}`` trimming;
comments; and the functions ``include toYaml nindent indent quote default trunc trimSuffix printf eq ne not
and or required sha256sum``. Anything else raises TemplateError naming the file, so an unsupported
construct fails the test instead of rendering silently wrong.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(Exception):
    pass


@dataclass
class Text:
    text: str


@dataclass
class Action:
    source: str


@dataclass
class If:
    branches: list[tuple[str | None, list[Any]]] = field(default_factory=list)


_TOKEN = re.compile(r'\s*(?:(\()|(\))|(\|)|("(?:\\.|[^"\\])*")|(`[^`]*`)|(-?\d+(?:\.\d+)?)|([.$][A-Za-z0-9_.]*)'
                    r'|([A-Za-z_][A-Za-z0-9_]*))')


def _split(source: str, name: str) -> list[tuple[str, str]]:
    """Text and action pieces, with ``{{-`` / ``-}}`` whitespace trimming applied."""
    pieces: list[tuple[str, str]] = []
    i = 0
    while True:
        start = source.find("{{", i)
        if start < 0:
            pieces.append(("text", source[i:]))
            return pieces
        pieces.append(("text", source[i:start]))
        j, quote = start + 2, ""
        while j < len(source):
            char = source[j]
            if quote:
                if char == "\\" and quote == '"':
                    j += 2
                    continue
                if char == quote:
                    quote = ""
            elif char in "\"`":
                quote = char
            elif source.startswith("}}", j):
                break
            j += 1
        else:
            raise TemplateError(f"{name}: unclosed action at offset {start}")
        inner = source[start + 2:j]
        if inner.startswith("-") and (len(inner) == 1 or inner[1] in " \t\n"):
            pieces[-1] = ("text", pieces[-1][1].rstrip())
            inner = inner[1:]
        trim_after = inner.endswith("-") and (len(inner) == 1 or inner[-2] in " \t\n")
        if trim_after:
            inner = inner[:-1]
        pieces.append(("action", inner.strip()))
        i = j + 2
        if trim_after:
            while i < len(source) and source[i] in " \t\n\r":
                i += 1


def _parse(pieces: list[tuple[str, str]], name: str, defines: dict[str, list[Any]]) -> list[Any]:
    root: list[Any] = []
    stack: list[tuple[str, Any, list[Any]]] = []  # (kind, node, current body)
    body = root
    for kind, value in pieces:
        if kind == "text":
            if value:
                body.append(Text(value))
            continue
        if value.startswith("/*"):
            continue
        word = value.split(None, 1)[0] if value else ""
        rest = value[len(word):].strip()
        if word == "if":
            node = If([(rest, [])])
            body.append(node)
            stack.append(("if", node, body))
            body = node.branches[-1][1]
        elif word == "else":
            if not stack or stack[-1][0] != "if":
                raise TemplateError(f"{name}: else outside if")
            node = stack[-1][1]
            condition = rest[2:].strip() if rest.startswith("if") else None
            node.branches.append((condition, []))
            body = node.branches[-1][1]
        elif word == "define":
            define_name = yaml.safe_load(rest)
            stack.append(("define", define_name, body))
            body = defines.setdefault(define_name, [])
        elif word == "end":
            if not stack:
                raise TemplateError(f"{name}: end without a block")
            _, _, body = stack.pop()
        elif word in ("range", "with", "block", "template", "tpl"):
            raise TemplateError(f"{name}: '{word}' is not supported by this test renderer")
        else:
            body.append(Action(value))
    if stack:
        raise TemplateError(f"{name}: unclosed {stack[-1][0]}")
    return root


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, (list, dict)) and not value)


def to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True).rstrip("\n").removesuffix("\n...")


def _go_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Chart:
    """Renders every template of a chart directory against values."""

    def __init__(self, chart_dir: Path):
        self.chart_dir = chart_dir
        self.meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        self.default_values = yaml.safe_load((chart_dir / "values.yaml").read_text())
        self.defines: dict[str, list[Any]] = {}
        self.templates: dict[str, list[Any]] = {}
        for path in sorted((chart_dir / "templates").iterdir()):
            tree = _parse(_split(path.read_text(), path.name), path.name, self.defines)
            if not path.name.startswith("_"):
                self.templates[path.name] = tree

    def render(self, overrides: Mapping[str, Any] | None = None, release: str = "rel",
               namespace: str = "gpu") -> dict[str, str]:
        """``{template file: rendered text}`` with ``overrides`` deep-merged over values.yaml."""
        values = _merge(self.default_values, overrides or {})
        root = {
            "Values": values,
            "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
            "Chart": {key[0].upper() + key[1:]: value for key, value in self.meta.items()},
        }
        return {name: self._render(tree, root, name) for name, tree in self.templates.items()}

    def manifests(self, overrides: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every non-empty YAML document the chart renders to."""
        out: list[dict[str, Any]] = []
        for name, text in self.render(overrides).items():
            try:
                out.extend(doc for doc in yaml.safe_load_all(text) if doc)
            except yaml.YAMLError as error:
                raise TemplateError(f"{name}: rendered YAML does not parse: {error}\n{text}") from error
        return out

    # -- evaluation ------------------------------------------------------------------------------
    def _render(self, tree: list[Any], dot: Any, name: str) -> str:
        out: list[str] = []
        for node in tree:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                out.append(_go_string(self._pipeline(node.source, dot, name)))
            else:
                for condition, body in node.branches:
                    if condition is None or truthy(self._pipeline(condition, dot, name)):
                        out.append(self._render(body, dot, name))
                        break
        return "".join(out)

    def _functions(self, dot: Any, name: str) -> dict[str, Callable[..., Any]]:
        def include(define: str, context: Any) -> str:
            if define not in self.defines:
                raise TemplateError(f"{name}: include of unknown template {define!r}")
            return self._render(self.defines[define], context, name)

        def required(message: str, value: Any) -> Any:
            if not truthy(value):
                raise TemplateError(f"{name}: required: {message}")
            return value

        return {
            "include": include,
            "required": required,
            "toYaml": to_yaml,
            "nindent": lambda n, s: "\n" + "\n".join(" " * n + line if line else line for line in s.split("\n")),
            "indent": lambda n, s: "\n".join(" " * n + line if line else line for line in s.split("\n")),
            "quote": lambda v: '"' + _go_string(v).replace("\\", "\\\\").replace('"', '\\"') + '"',
            "default": lambda fallback, value=None: value if truthy(value) else fallback,
            "trunc": lambda n, s: s[:n],
            "trimSuffix": lambda suffix, s: s[: -len(suffix)] if suffix and s.endswith(suffix) else s,
            "printf": lambda fmt, *args: fmt % tuple(args),
            "eq": lambda a, b: a == b,
            "ne": lambda a, b: a != b,
            "not": lambda v: not truthy(v),
            "and": lambda *v: next((x for x in v if not truthy(x)), v[-1]),
            "or": lambda *v: next((x for x in v if truthy(x)), v[-1]),
            "sha256sum": lambda s: hashlib.sha256(_go_string(s).encode()).hexdigest(),
        }

    def _pipeline(self, source: str, dot: Any, name: str) -> Any:
        tokens = self._tokens(source, name)
        value, position = self._eval_pipeline(tokens, 0, dot, name)
        if position != len(tokens):
            raise TemplateError(f"{name}: unexpected {tokens[position]!r} in {{{{ {source} }}}}")
        return value

    @staticmethod
    def _tokens(source: str, name: str) -> list[tuple[str, str]]:
        kinds = ("open", "close", "pipe", "string", "raw", "number", "field", "ident")
        tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(source.rstrip()):
            match = _TOKEN.match(source, position)
            if match is None or match.end() == position:
                raise TemplateError(f"{name}: cannot read {source[position:]!r}")
            kind = next(k for k, g in zip(kinds, match.groups(), strict=True) if g is not None)
            tokens.append((kind, match.group(kinds.index(kind) + 1)))
            position = match.end()
        return tokens

    def _eval_pipeline(self, tokens: list[tuple[str, str]], i: int, dot: Any, name: str) -> tuple[Any, int]:
        value: Any = None
        first = True
        while True:
            args: list[Any] = []
            function: str | None = None
            if i < len(tokens) and tokens[i][0] == "ident" and tokens[i][1] not in ("true", "false", "nil"):
                function = tokens[i][1]
                i += 1
            while i < len(tokens) and tokens[i][0] not in ("pipe", "close"):
                term, i = self._term(tokens, i, dot, name)
                args.append(term)
            if function is not None:
                functions = self._functions(dot, name)
                if function not in functions:
                    raise TemplateError(f"{name}: function {function!r} is not supported by this test renderer")
                if not first:
                    args.append(value)
                value = functions[function](*args)
            elif first and len(args) == 1:
                value = args[0]
            else:
                raise TemplateError(f"{name}: cannot evaluate {tokens}")
            first = False
            if i < len(tokens) and tokens[i][0] == "pipe":
                i += 1
                continue
            return value, i

    def _term(self, tokens: list[tuple[str, str]], i: int, dot: Any, name: str) -> tuple[Any, int]:
        kind, text = tokens[i]
        if kind == "open":
            value, i = self._eval_pipeline(tokens, i + 1, dot, name)
            if i >= len(tokens) or tokens[i][0] != "close":
                raise TemplateError(f"{name}: unbalanced parentheses")
            return value, i + 1
        if kind == "string":
            return yaml.safe_load(text), i + 1
        if kind == "raw":
            return text[1:-1], i + 1
        if kind == "number":
            return (float(text) if "." in text else int(text)), i + 1
        if kind == "field":
            value = dot
            for part in (p for p in text.lstrip(".$").split(".") if p):
                value = value.get(part) if isinstance(value, dict) else None
            return value, i + 1
        if kind == "ident" and text in ("true", "false", "nil"):
            return {"true": True, "false": False, "nil": None}[text], i + 1
        raise TemplateError(f"{name}: unexpected {text!r}")


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return override
