"""Derive a snapshot's index from the index of an earlier snapshot of the same backend.

Between two reconciler cycles a backend's snapshot usually differs in the free capacity of a few nodes only.
Building a ``SnapshotIndex`` from scratch walks every node, group and gang view; deriving it copies the
previous index's mutable state (C-level dict and list copies), shares what depends on the node layout only
(node places, scope members, groups) and re-reads just the nodes whose free figures changed.

Contract: ``derive_index(base, snapshot)`` returns an index that answers exactly as ``SnapshotIndex(snapshot)``
would, in every figure and bucket order a decision reads, under any later queries and assumptions
(tests/unit/policies/test_index_derive.py checks this against a rebuild); ``base`` itself when no node's figures
differ; or None when the node layout differs (a node added, removed, renamed, retyped, resized, moved,
repooled, drained or returned; another switch tree), in which case the caller builds from scratch. ``base`` is
left untouched and must carry no assumption (the engine discards every session's assumptions before returning).
"""

from __future__ import annotations

from dualtrack.broker.domain import ClusterSnapshot, NodeCapacity
from dualtrack.policies.capacity.index import SnapshotIndex


def same_layout(a: NodeCapacity, b: NodeCapacity) -> bool:
    """True when ``a`` and ``b`` differ at most in their free GPUs, CPUs and memory (and labels, which the
    index does not read)."""
    return (a.name == b.name and a.gpu_type == b.gpu_type and a.gpus_total == b.gpus_total
            and a.cpus_total == b.cpus_total and a.memory_total == b.memory_total and a.switch == b.switch
            and a.nvlink_domain == b.nvlink_domain and a.pools == b.pools and a.schedulable == b.schedulable)


def same_free(a: NodeCapacity, b: NodeCapacity) -> bool:
    return a.gpus_free == b.gpus_free and a.cpus_free == b.cpus_free and a.memory_free == b.memory_free


def changed_nodes(old: ClusterSnapshot, new: ClusterSnapshot) -> list[int] | None:
    """Indexes of the nodes whose free figures differ between two split snapshots, or None when their node
    layouts differ (see the module docstring)."""
    if len(old.nodes) != len(new.nodes) or (old.switches is not new.switches and old.switches != new.switches):
        return None
    changed: list[int] = []
    for i, (a, b) in enumerate(zip(old.nodes, new.nodes, strict=True)):
        if a is b:  # adapters that reuse unchanged nodes make the common case one identity check
            continue
        if not same_layout(a, b):
            return None
        if not same_free(a, b):
            changed.append(i)
    return changed


def derive_index(base: SnapshotIndex, snapshot: ClusterSnapshot) -> SnapshotIndex | None:
    """See the module docstring."""
    split = snapshot.split_by_gpu_type()
    changed = changed_nodes(base.snapshot, split)
    if changed is None:
        return None
    if not changed:
        return base  # the same nodes: the base index (which never changes outside a call) answers for both
    index = base.clone_onto(split)
    for i in changed:
        index.reset_node(i)
    index.canonicalize()
    return index
