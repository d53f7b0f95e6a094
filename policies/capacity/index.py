"""Per-snapshot capacity indexes: built once per snapshot, queried per decision, updated by assume/undo.

Why: a decision must take well under 2 ms at 10k nodes, so the per-job check never walks the nodes. Instead:

- ``SnapshotIndex`` (one per ClusterSnapshot) holds the *current* free GPUs / CPUs / memory of every node
  (a batch lowers them with ``take`` and restores them with ``give``) and builds a ``ScopeIndex`` per pool
  on first use (``None`` = the whole backend).
- ``TypeIndex`` (one per GPU type of a scope) keeps nodes bucketed by free-GPU level (for best-fit picking at
  cluster tier), the members of every group (NVLink domain, leaf switch, spine) and, lazily per gang width G,
- ``GangView``: the number of G-GPU worker slots free in every group of every tier, plus a histogram
  ``slots -> groups`` per tier, so "does some leaf switch hold W workers now?" is one look at the histogram.
  ``take``/``give`` update every view incrementally: O(views x depth) per node touched.

Determinism: every bucket iterates in a canonical order (nodes by index, groups by their first node), so a
decision depends on the free capacity only, not on the history of assume/undo. Insertions append to a bucket
and are recorded; ``canonicalize`` (called when a session ends) re-sorts just the buckets that had them.

Nothing here is thread-safe; the engine serialises decisions (see PlacementEngine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dualtrack.broker.domain import ClusterSnapshot, NodeCapacity
from dualtrack.policies.capacity.tree import GROUP_TIERS, NodePlace, Tier, node_places

UNKNOWN_TYPE = "unknown"  # the type key of GPU nodes that do not say their model


def type_key(node: NodeCapacity) -> str:
    return node.gpu_type or UNKNOWN_TYPE


class GangView:
    """Free worker slots of ``gpus`` GPUs per group and tier for one TypeIndex; kept current by ``change``."""

    def __init__(self, gpus: int, types: TypeIndex):
        self.gpus = gpus
        self.types = types
        self.slots: list[dict[str, int]] = [{} for _ in GROUP_TIERS]  # tier -> group -> free slots (> 0)
        self.buckets: list[dict[int, dict[str, None]]] = [{} for _ in GROUP_TIERS]  # tier -> slots -> groups
        self.cluster = 0
        self.used = True  # False for a view carried into a derived index and not asked for since
        self._orders = [self.group_order(tier) for tier in GROUP_TIERS]
        free, places = types.owner.free, types.owner.places
        for i in types.members:
            slots = free[i] // gpus
            if slots:
                self._add(places[i], slots)
        for tier in GROUP_TIERS:
            for bucket in self.buckets[tier].values():
                _sort_bucket(bucket, self._orders[tier])

    def clone(self, types: TypeIndex) -> GangView:
        """An independent copy for ``types`` (a clone of this view's TypeIndex): the slot counts and buckets
        are copied, the canonical group orders shared (they depend on the node layout only)."""
        view = GangView.__new__(GangView)
        view.gpus = self.gpus
        view.types = types
        view.slots = [dict(slots) for slots in self.slots]
        view.buckets = [{level: dict(groups) for level, groups in buckets.items()} for buckets in self.buckets]
        view.cluster = self.cluster
        view.used = False
        view._orders = self._orders
        return view

    def first_use(self) -> None:
        """Make the buckets canonical, as a view built now would be (see ``SnapshotIndex.clone_onto``)."""
        self.used = True
        if self.types.owner.dirty:
            for tier in GROUP_TIERS:
                for bucket in self.buckets[tier].values():
                    _sort_bucket(bucket, self._orders[tier])

    def group_order(self, tier: Tier) -> Callable[[str], int]:
        """The canonical order of the groups of ``tier``: by their first member node."""
        return self.types.first_member[tier].__getitem__

    def _add(self, place: NodePlace, delta: int) -> None:
        for tier in GROUP_TIERS:
            for group in place.groups(tier):
                self._move(tier, group, delta)
        self.cluster += delta

    def _move(self, tier: Tier, group: str, delta: int) -> None:
        slots, buckets = self.slots[tier], self.buckets[tier]
        old = slots.get(group, 0)
        new = old + delta
        if old > 0:
            bucket = buckets[old]
            del bucket[group]
            if not bucket:
                del buckets[old]
        if new > 0:
            slots[group] = new
            bucket = buckets.setdefault(new, {})
            bucket[group] = None
            self.types.owner.dirty.append((bucket, self._orders[tier]))
        else:
            slots.pop(group, None)

    def change(self, place: NodePlace, old_free: int, new_free: int) -> None:
        delta = new_free // self.gpus - old_free // self.gpus
        if delta:
            self._add(place, delta)

    def best(self, tier: Tier) -> int:
        """The most slots free in one group of ``tier`` (the whole backend for CLUSTER)."""
        if tier is Tier.CLUSTER:
            return self.cluster
        return max(self.buckets[tier], default=0)

    def fitting(self, tier: Tier, workers: int) -> Iterator[str]:
        """Groups of ``tier`` with at least ``workers`` free slots, tightest (fewest slots) first."""
        buckets = self.buckets[tier]
        for level in sorted(k for k in buckets if k >= workers):
            yield from buckets[level]  # no copy: callers only read while iterating (assume comes after)


class TypeIndex:
    """The nodes of one GPU type inside one scope."""

    def __init__(self, key: str, members: list[int], owner: SnapshotIndex):
        self.key = key
        self.members = members
        self.owner = owner
        nodes = owner.snapshot.nodes
        self.max_total = max((nodes[i].gpus_total for i in members), default=0)
        self.total_gpus = sum(nodes[i].gpus_total for i in members)
        self.max_cpus = max((nodes[i].cpus_total for i in members), default=0)
        self.max_memory = max((nodes[i].memory_total for i in members), default=0)
        self.free_buckets: dict[int, dict[int, None]] = {}  # free GPUs -> nodes with exactly that many (> 0)
        self.group_members: list[dict[str, list[int]]] = [{} for _ in GROUP_TIERS]
        self.views: dict[int, GangView] = {}
        self._ever: dict[int, tuple[int, int, int, int]] = {}
        places, free = owner.places, owner.free
        for i in members:
            if free[i] > 0:
                self.free_buckets.setdefault(free[i], {})[i] = None
            for tier in GROUP_TIERS:
                for group in places[i].groups(tier):
                    self.group_members[tier].setdefault(group, []).append(i)
        self.first_member = [{g: nodes_[0] for g, nodes_ in groups.items()} for groups in self.group_members]

    def clone(self, owner: SnapshotIndex) -> TypeIndex:
        """An independent copy for ``owner`` (a SnapshotIndex over a snapshot with the same node layout): the
        free-capacity buckets and gang views are copied; members, groups, totals and ``ever_slots`` answers,
        which depend on the layout only, are shared."""
        types = TypeIndex.__new__(TypeIndex)
        types.__dict__.update(self.__dict__)
        types.owner = owner
        types.free_buckets = {level: dict(nodes) for level, nodes in self.free_buckets.items()}
        types.views = {gpus: view.clone(types) for gpus, view in self.views.items()}
        return types

    @property
    def free_gpus(self) -> int:
        return sum(level * len(nodes) for level, nodes in self.free_buckets.items())

    def view(self, gpus: int) -> GangView:
        """The slot view for workers of ``gpus`` GPUs (built on first use, then kept current)."""
        found = self.views.get(gpus)
        if found is None:
            found = self.views[gpus] = GangView(gpus, self)
        elif not found.used:
            found.first_use()
        return found

    def ever_slots(self, gpus: int) -> tuple[int, int, int, int]:
        """Per tier (node, switch, spine, cluster): the most ``gpus``-GPU workers one group could ever hold,
        counting every node's total GPUs (drained and busy nodes included)."""
        found = self._ever.get(gpus)
        if found is None:
            nodes = self.owner.snapshot.nodes
            best = [0, 0, 0]
            for tier in GROUP_TIERS:
                for group_nodes in self.group_members[tier].values():
                    best[tier] = max(best[tier], sum(nodes[i].gpus_total // gpus for i in group_nodes))
            cluster = sum(nodes[i].gpus_total // gpus for i in self.members)
            found = self._ever[gpus] = (best[0], best[1], best[2], cluster)
        return found

    def change(self, i: int, old_free: int, new_free: int) -> None:
        if old_free > 0:
            bucket = self.free_buckets[old_free]
            del bucket[i]
            if not bucket:
                del self.free_buckets[old_free]
        if new_free > 0:
            bucket = self.free_buckets.setdefault(new_free, {})
            bucket[i] = None
            self.owner.dirty.append((bucket, None))
        place = self.owner.places[i]
        for view in self.views.values():
            view.change(place, old_free, new_free)


class ScopeIndex:
    """The nodes one candidate may use: a pool's nodes, or every node (``pool`` None)."""

    def __init__(self, pool: str | None, owner: SnapshotIndex):
        self.pool = pool
        nodes = owner.snapshot.nodes
        self.members = [i for i, n in enumerate(nodes) if pool is None or not n.pools or pool in n.pools]
        by_type: dict[str, list[int]] = {}
        for i in self.members:
            if nodes[i].gpus_total > 0:
                by_type.setdefault(type_key(nodes[i]), []).append(i)
        self.types = {key: TypeIndex(key, members, owner) for key, members in sorted(by_type.items())}
        self.used = True  # False for a scope carried into a derived index and not asked for since

    def clone(self, owner: SnapshotIndex) -> ScopeIndex:
        """An independent copy for ``owner`` (same node layout; see ``TypeIndex.clone``)."""
        scope = ScopeIndex.__new__(ScopeIndex)
        scope.pool = self.pool
        scope.members = self.members
        scope.types = {key: types.clone(owner) for key, types in self.types.items()}
        scope.used = False
        return scope

    def first_use(self, owner: SnapshotIndex) -> None:
        """Make the free-GPU buckets canonical, as a scope built now would be (see ``SnapshotIndex.clone_onto``)."""
        self.used = True
        if owner.dirty:
            for types in self.types.values():
                for bucket in types.free_buckets.values():
                    _sort_bucket(bucket, None)

    def describe_types(self) -> str:
        """``a100 x 64, h100 x 16`` (total GPUs per type), for reasons."""
        return ", ".join(f"{k} x {t.total_gpus}" for k, t in self.types.items()) or "no GPUs"


class SnapshotIndex:
    """Mutable free capacity over one immutable snapshot, with lazily built per-pool scopes. Node indexes
    refer to ``self.snapshot``: the given one with each mixed-GPU node split into one node per GPU type."""

    def __init__(self, snapshot: ClusterSnapshot):
        snapshot = snapshot.split_by_gpu_type()
        self.snapshot = snapshot
        self.places = node_places(snapshot)
        self.free = [max(0, min(n.gpus_free, n.gpus_total)) if n.schedulable else 0 for n in snapshot.nodes]
        self.cpus_free = [n.cpus_free if n.schedulable else 0 for n in snapshot.nodes]
        self.memory_free = [n.memory_free if n.schedulable else 0 for n in snapshot.nodes]
        self.has_switches = any(p.leaf is not None for p in self.places)
        self.gpus_total = sum(n.gpus_total for n in snapshot.nodes if n.schedulable)
        self._scopes: dict[str | None, ScopeIndex] = {}
        self.dirty: list[tuple[dict[Any, None], Callable[[Any], int] | None]] = []  # buckets appended to
        # (pool, GangRequest) -> GangFit over the current free capacity (fit.py's memo); emptied at every change
        self.fits: dict[tuple[str | None, Any], Any] = {}

    def clone_onto(self, snapshot: ClusterSnapshot) -> SnapshotIndex:
        """A copy of this index whose ``snapshot`` is ``snapshot``, free capacity still this index's.

        Contract: ``snapshot`` is already split by GPU type and has this index's node layout (the same nodes in
        the same order with the same names, types, totals, places, pools and schedulability: see
        ``policies/capacity/derive.py``), and this index carries no assumption (the engine discards them at the
        end of every call). The caller then ``reset_node``s the nodes whose free capacity differs and
        ``canonicalize``s. Layout-only parts (node places, scope members, groups) are shared, not copied.

        The copy behaves exactly as a fresh ``SnapshotIndex(snapshot)`` under any later queries and
        assumptions: the scopes and views it carries count as not built yet, and the first time one is asked
        for while assumptions are pending (buckets out of canonical order) its buckets are sorted, which is
        the order a scope or view built at that moment would have.
        """
        index = SnapshotIndex.__new__(SnapshotIndex)
        index.snapshot = snapshot
        index.places = self.places
        index.free = list(self.free)
        index.cpus_free = list(self.cpus_free)
        index.memory_free = list(self.memory_free)
        index.has_switches = self.has_switches
        index.gpus_total = self.gpus_total
        index.dirty = []
        index.fits = {}
        index._scopes = {pool: scope.clone(index) for pool, scope in self._scopes.items()}
        return index

    def release(self) -> None:
        """Drop the parts built on demand (scopes, their type indexes' gang views). A type index and its views
        point back at their owners, so an index left alone is a reference cycle that only the cyclic garbage
        collector frees, with its snapshot; released, it is freed as soon as nobody holds it. An index used
        after this still answers exactly as before: its parts are rebuilt from the free capacity on demand."""
        for scope in self._scopes.values():
            for types in scope.types.values():
                types.views = {}
        self._scopes = {}
        self.fits = {}

    def reset_node(self, i: int) -> None:
        """Set node ``i``'s free GPUs, CPUs and memory to its snapshot's figures (as ``__init__`` reads them)."""
        self.fits.clear()
        node = self.snapshot.nodes[i]
        usable = node.schedulable
        self.cpus_free[i] = node.cpus_free if usable else 0
        self.memory_free[i] = node.memory_free if usable else 0
        old, new = self.free[i], max(0, min(node.gpus_free, node.gpus_total)) if usable else 0
        if old != new:
            self.free[i] = new
            self._gpus_changed(i, node, old, new)

    def canonicalize(self) -> None:
        """Put every bucket appended to since the last call back in canonical order."""
        if self.dirty:
            self.fits.clear()  # bucket order decides ties
        seen: set[int] = set()
        for bucket, order in self.dirty:
            if id(bucket) not in seen:
                seen.add(id(bucket))
                _sort_bucket(bucket, order)
        self.dirty.clear()

    def scope(self, pool: str | None) -> ScopeIndex:
        found = self._scopes.get(pool)
        if found is None:
            found = self._scopes[pool] = ScopeIndex(pool, self)
        elif not found.used:
            found.first_use(self)
        return found

    def _apply(self, i: int, gpus: int, cpus: int, memory: int) -> None:
        self.fits.clear()
        node = self.snapshot.nodes[i]
        old = self.free[i]
        self.free[i] = old - gpus
        if node.cpus_total:
            self.cpus_free[i] -= cpus
        if node.memory_total:
            self.memory_free[i] -= memory
        if gpus:
            self._gpus_changed(i, node, old, self.free[i])

    def _gpus_changed(self, i: int, node: NodeCapacity, old: int, new: int) -> None:
        key = type_key(node)
        for scope in self._scopes.values():
            types = scope.types.get(key)
            if types is not None and (scope.pool is None or not node.pools or scope.pool in node.pools):
                types.change(i, old, new)

    def take(self, i: int, gpus: int, cpus: int, memory: int) -> None:
        """Assume a worker's resources on node ``i`` are used (batch placement)."""
        self._apply(i, gpus, cpus, memory)

    def give(self, i: int, gpus: int, cpus: int, memory: int) -> None:
        """Undo ``take``."""
        self._apply(i, -gpus, -cpus, -memory)


def _sort_bucket(bucket: dict[Any, None], order: Callable[[Any], int] | None) -> None:
    items = sorted(bucket, key=order)
    bucket.clear()
    bucket.update(dict.fromkeys(items))
