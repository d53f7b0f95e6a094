"""The topology tiers of a backend's GPU tree and how one node sits in it.

Tree: GPU -> NVLink domain (the node itself unless ``nvlink_domain`` says more) -> leaf switch -> spine
(any switch above a leaf) -> cluster. ``Tier`` orders them tightest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from dualtrack.broker.domain import ClusterSnapshot, NodeCapacity


class Tier(IntEnum):
    """Where a whole gang fits; lower is tighter. ``str(tier)`` is the name used in Placement.tier."""

    NODE = 0  # one node / NVLink domain
    SWITCH = 1  # one leaf switch
    SPINE = 2  # one switch above the leaves
    CLUSTER = 3  # anywhere in the backend

    def __str__(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return {0: "one NVLink domain", 1: "one leaf switch", 2: "one spine", 3: "the cluster"}[self.value]


GROUP_TIERS = (Tier.NODE, Tier.SWITCH, Tier.SPINE)  # tiers made of groups; CLUSTER is the single whole


@dataclass(frozen=True)
class NodePlace:
    """The groups one node belongs to: its NVLink domain, its leaf switch (if known), the spines above."""

    domain: str
    leaf: str | None
    spines: tuple[str, ...]

    def groups(self, tier: Tier) -> tuple[str, ...]:
        if tier is Tier.NODE:
            return (self.domain,)
        if tier is Tier.SWITCH:
            return () if self.leaf is None else (self.leaf,)
        if tier is Tier.SPINE:
            return self.spines
        return ()


def ancestors(switch: str, parents: Mapping[str, str | None]) -> tuple[str, ...]:
    """The switches above ``switch``, nearest first; stops at a root or at a cycle in bad data."""
    out: list[str] = []
    seen = {switch}
    parent = parents.get(switch)
    while parent is not None and parent not in seen:
        out.append(parent)
        seen.add(parent)
        parent = parents.get(parent)
    return tuple(out)


def node_places(snapshot: ClusterSnapshot) -> list[NodePlace]:
    """One NodePlace per node of the snapshot, in node order."""
    parents = {s.name: s.parent for s in snapshot.switches}
    cache: dict[str, tuple[str, ...]] = {}

    def place(node: NodeCapacity) -> NodePlace:
        if node.switch is None:
            return NodePlace(node.domain, None, ())
        spines = cache.get(node.switch)
        if spines is None:
            spines = cache[node.switch] = ancestors(node.switch, parents)
        return NodePlace(node.domain, node.switch, spines)

    return [place(n) for n in snapshot.nodes]
