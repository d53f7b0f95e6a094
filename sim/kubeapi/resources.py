"""The API resources the simulator serves: core (namespaces, nodes, pods) and the Volcano custom resources.

Caller: the store and the HTTP layer. ``build_resources(crds)`` returns the registry; CRD-backed resources
carry their ``Crd`` (schema, printer columns); HyperNodes are served without a schema (no upstream CRD copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dualtrack.sim.kubeapi.crd import Crd

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    crd: Crd | None = None
    columns: tuple[Mapping[str, Any], ...] = ()  # additionalPrinterColumns-style (name, type, jsonPath)
    has_status: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.plural

    def discovery(self) -> list[dict[str, Any]]:
        """APIResource entries (the resource and its status subresource)."""
        entry: dict[str, Any] = {"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                                 "kind": self.kind, "verbs": VERBS}
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        out = [entry]
        if self.has_status:
            out.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return out


CORE = (
    Resource("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",)),
    Resource("", "v1", "nodes", "node", "Node", False, ("no",)),
    Resource("", "v1", "pods", "pod", "Pod", True, ("po",)),
)
HYPERNODE = Resource("topology.volcano.sh", "v1alpha1", "hypernodes", "hypernode", "HyperNode", False, ("hn",),
                     columns=({"name": "TIER", "type": "integer", "jsonPath": ".spec.tier"},
                              {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}))


def from_crd(crd: Crd) -> Resource:
    """A CRD's resource. Discovery also lists each short name's plural (``vcjob`` -> ``vcjobs``), a simulator
    convenience so that ``kubectl get vcjobs`` resolves; a real server lists only the CRD's short names."""
    shorts = list(crd.short_names)
    shorts += [f"{s}s" for s in crd.short_names if f"{s}s" not in shorts and f"{s}s" != crd.plural]
    return Resource(crd.group, crd.version, crd.plural, crd.singular, crd.kind, crd.namespaced, tuple(shorts),
                    crd=crd, columns=crd.printer_columns, has_status=crd.has_status)


class Registry:
    """Resources by (group, plural) and by (group, version)."""

    def __init__(self, resources: Iterable[Resource]):
        self.all = list(resources)
        self.by_key = {r.key: r for r in self.all}

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        res = self.by_key.get((group, plural))
        return res if res is not None and res.version == version else None

    def groups(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        for res in self.all:
            if res.group:
                out.setdefault(res.group, []).append(res)
        return out

    def kind(self, group: str, kind: str) -> Resource | None:
        return next((r for r in self.all if r.group == group and r.kind == kind), None)


def build_resources(crds: Iterable[Crd]) -> Registry:
    resources = list(CORE) + [from_crd(c) for c in crds]
    if not any(r.key == HYPERNODE.key for r in resources):
        resources.append(HYPERNODE)
    return Registry(resources)
