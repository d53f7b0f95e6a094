"""CustomResourceDefinitions for the simulator: loading, structural pruning and schema validation.

Caller: ``sim.kubeapi.resources`` (registers each CRD as an API resource) and the HTTP layer (validates
creates/updates). ``load_crds(directory)`` reads every ``*.yaml`` CRD there. ``validate(crd, obj)`` returns
the list of causes a real API server would put into a 422 Status (empty when valid); ``prune(crd, obj)``
drops (and returns the paths of) fields the schema does not know, as a real server does for structural
schemas (``fieldValidation=Strict`` turns them into errors instead).

``x-kubernetes-int-or-string: true`` is read as "integer or string"; ``nullable: true`` admits null;
``x-kubernetes-preserve-unknown-fields`` and ``additionalProperties`` keep unknown fields.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

Cause = dict[str, str]


@dataclass(frozen=True)
class Crd:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    namespaced: bool
    schema: Mapping[str, Any]
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    has_status: bool = False
    validator: Any = field(default=None, compare=False, repr=False)


def to_json_schema(node: Any) -> Any:
    """An openAPIV3Schema (Kubernetes dialect) as plain JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    out.pop("nullable", None)
    return out


def _crd_from_doc(doc: Mapping[str, Any]) -> Crd:
    spec = doc["spec"]
    names = spec["names"]
    version = next((v for v in spec["versions"] if v.get("storage")), spec["versions"][0])
    schema = version["schema"]["openAPIV3Schema"]
    validator = jsonschema.Draft7Validator(to_json_schema(schema))
    return Crd(
        group=spec["group"], version=version["name"], kind=names["kind"], plural=names["plural"],
        singular=names.get("singular", names["kind"].lower()), short_names=tuple(names.get("shortNames") or ()),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced", schema=schema,
        printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
        has_status="status" in (version.get("subresources") or {}), validator=validator,
    )


def load_crds(directory: Path) -> list[Crd]:
    """Every CRD in ``directory`` (``*.yaml``, several documents per file allowed). Raises FileNotFoundError."""
    if not directory.is_dir():
        raise FileNotFoundError(f"CRD directory {directory} does not exist")
    out = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                out.append(_crd_from_doc(doc))
    return out


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _cause(error: jsonschema.ValidationError) -> Cause:
    path = _path(error.absolute_path)
    value = json.dumps(error.instance) if not isinstance(error.instance, dict | list) else (
        "object" if isinstance(error.instance, dict) else "array")
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return {"reason": "FieldValueNotSupported", "field": path,
                "message": f"Unsupported value: {value}: supported values: {allowed}"}
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        field_path = f"{path}.{missing}" if path else missing
        return {"reason": "FieldValueRequired", "field": field_path, "message": "Required value"}
    if error.validator in ("type", "anyOf"):
        expected = error.validator_value if error.validator == "type" else "integer or string"
        return {"reason": "FieldValueTypeInvalid", "field": path,
                "message": f"Invalid value: {value}: {path} in body must be of type {expected}: {value}"}
    return {"reason": "FieldValueInvalid", "field": path,
            "message": f"Invalid value: {value}: {path} in body {error.message}"}


def validate(crd: Crd, obj: Mapping[str, Any]) -> list[Cause]:
    """The 422 causes for ``obj`` against the CRD schema (metadata is checked elsewhere)."""
    body = {k: v for k, v in obj.items() if k != "metadata"}
    errors = sorted(crd.validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    return [_cause(e) for e in errors]


def prune(schema: Mapping[str, Any], obj: Any, path: str = "", top: bool = True) -> list[str]:
    """Remove, in place, fields ``schema`` does not declare; return their paths."""
    dropped: list[str] = []
    if isinstance(obj, dict):
        if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-embedded-resource"):
            return dropped
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in list(obj):
            if top and key in ("apiVersion", "kind", "metadata"):
                continue
            sub_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                dropped += prune(props[key], obj[key], sub_path, False)
            elif isinstance(extra, dict):
                dropped += prune(extra, obj[key], sub_path, False)
            elif props is not None or extra is False:
                del obj[key]
                dropped.append(sub_path)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            dropped += prune(schema["items"], item, f"{path}[{i}]", False)
    return dropped


def pruned_copy(crd: Crd, obj: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    out = copy.deepcopy(dict(obj))
    return out, prune(crd.schema, out)
