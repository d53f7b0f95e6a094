"""A Slurm cluster in virtual time: nodes, partitions, the switch tree, priority order plus backfill.

A plain Python module with no threads or I/O; the caller passes the time to every call (docs/simulation.md).

Jobs ask for ``nodes`` distinct nodes, each holding ``gpus_per_node`` GPUs (of ``gpu_type`` when given), CPUs and
memory (MiB), for at most ``time_limit`` seconds; the job really runs ``run_seconds`` (cut at the limit: TIMEOUT).

Scheduling (``advance(now)``): jobs that ended by ``now`` release their nodes at their end time; then one pass
over the pending jobs in priority order (priority high first, then submit time, then submit order):

- a job starts now when enough nodes hold it for its whole time limit without touching any reservation made
  earlier in the pass (that is Slurm's backfill rule: a lower-priority job may start early only if it does not
  delay the expected start of a higher-priority job, judged by time limits, never by real run times);
- otherwise, while fewer than ``max_reservations`` jobs hold one (Slurm's ``bf_max_job_test`` analogue), it
  gets a reservation at its earliest start: the first time at which enough nodes are free for its whole time
  limit given the running jobs' limits and the reservations already made;
- ``switches=N`` (``--switches=N@wait``): while the job has waited less than ``switch_wait`` its nodes must
  come from at most N leaf switches; after that any nodes do.

``estimate_start`` answers like ``sbatch --test-only``: the earliest start of a new job of lowest priority
against the running jobs and the reservations of the last pass. Not thread-safe.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PENDING, RUNNING, COMPLETED, TIMEOUT, CANCELLED = "PENDING", "RUNNING", "COMPLETED", "TIMEOUT", "CANCELLED"
FINISHED = frozenset({COMPLETED, TIMEOUT, CANCELLED})
_FOREVER = float("inf")
Shape = tuple[str | None, str | None, int, int, int]  # see SlurmJob.shape
_TOUCHED_LOG_MAX = 100_000  # node names logged for the cached splits before the log starts over


@dataclass
class SlurmNode:
    name: str
    gpus: int = 8
    cpus: int = 64
    memory_mib: int = 512 * 1024
    gpu_type: str | None = None
    switch: str | None = None
    partitions: tuple[str, ...] = ()  # empty = every partition
    used_gpus: int = 0
    used_cpus: int = 0
    used_memory_mib: int = 0
    # (start, end by time limit, gpus, cpus, memory, owner) of running jobs and of this pass's reservations
    intervals: list[tuple[float, float, int, int, int, str]] = field(default_factory=list)

    @property
    def free_gpus(self) -> int:
        return self.gpus - self.used_gpus


@dataclass
class Partition:
    name: str
    nodes: tuple[str, ...] = ()  # empty = every node
    max_time: float | None = None
    up: bool = True


@dataclass
class SlurmJob:
    key: str
    nodes: int = 1
    gpus_per_node: int = 1
    cpus_per_node: int = 1
    memory_mib_per_node: int = 1024
    gpu_type: str | None = None
    time_limit: float = 3600.0
    run_seconds: float = 60.0
    priority: int = 0
    partition: str | None = None
    switches: int | None = None
    switch_wait: float = 0.0
    submit_time: float = 0.0
    seq: int = 0
    state: str = PENDING
    reason: str = "None"  # squeue's REASON: Priority, Resources, ...
    start_time: float | None = None
    end_time: float | None = None
    expected_start: float | None = None  # the last pass's reservation, when it made one
    allocation: tuple[str, ...] = ()

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @property
    def shape(self) -> Shape:
        """What decides which nodes could hold one worker: partition, GPU type and the per-node request (the key
        of the model's caches of able nodes and their splits)."""
        return (self.partition, self.gpu_type, self.gpus_per_node, self.cpus_per_node, self.memory_mib_per_node)

    @property
    def limit_end(self) -> float:
        """When the scheduler expects the job to end: start + time limit."""
        return (self.start_time or 0.0) + self.time_limit


class _Split:
    """A job shape's able nodes (``able``, fixed) split by room for one worker now, reservations aside: ``room``
    and ``busy`` hold positions in ``able``, ascending. Kept current from the model's log of nodes whose
    usage changed (``catch_up``), so a pass over every able node happens once per shape, not once per call.
    ``ordered`` gives every node's lower bound of its earliest start."""

    __slots__ = ("_busy_bounds", "_ordered", "able", "busy", "per_node", "position", "room", "seen")

    def __init__(self, able: list[SlurmNode], per_node: tuple[int, int, int], seen: int):
        self.able, self.per_node, self.seen = able, per_node, seen  # per_node: a worker's GPUs, CPUs, MiB
        self.position = {n.name: i for i, n in enumerate(able)}
        self.room: list[int] = []
        self.busy: list[int] = []
        for i, n in enumerate(able):
            (self.room if self._has_room(n) else self.busy).append(i)
        self._busy_bounds: list[tuple[float, int, int]] | None = None
        self._ordered: tuple[float, list[tuple[float, int, int]]] | None = None  # (now, bounds)

    def _has_room(self, n: SlurmNode) -> bool:
        gpus, cpus, memory = self.per_node
        return (n.gpus - n.used_gpus >= gpus and n.cpus - n.used_cpus >= cpus
                and n.memory_mib - n.used_memory_mib >= memory)

    def catch_up(self, log: list[str]) -> None:
        """Re-check the able nodes named in ``log`` since ``seen`` (their usage, so their room and their first
        running job's end, may have changed)."""
        touched = {self.position.get(name) for name in log[self.seen:]}
        self.seen = len(log)
        touched.discard(None)
        if not touched:
            return
        self._busy_bounds = self._ordered = None
        room, busy = self.room, self.busy
        for i in touched:
            assert i is not None
            at = bisect_left(room, i)
            in_room = at < len(room) and room[at] == i
            if self._has_room(self.able[i]) != in_room:
                if in_room:
                    room.pop(at)
                    insort(busy, i)
                else:
                    busy.pop(bisect_left(busy, i))
                    room.insert(at, i)

    def room_nodes(self) -> list[SlurmNode]:
        able = self.able
        return [able[i] for i in self.room]

    def ordered(self, model: SlurmModel, now: float) -> tuple[list[tuple[float, int, int]], list[SlurmNode]]:
        """(bounds, nodes): ``(lower bound, free GPUs if in room else 0, index in nodes)`` sorted, so the fullest
        of the nodes with equal bounds come first (the first nodes found able are the best fit). A node with
        room is bounded by ``now``, a busy one by its first running job's time limit; only the former change
        with ``now``, so the busy part is sorted once per change of usage."""
        able = self.able
        if self._ordered is not None and self._ordered[0] == now:
            return self._ordered[1], able
        if self._busy_bounds is None:
            first_ends = model._first_ends
            busy_bounds = []
            for i in self.busy:  # _first_end, its cache read inline: this runs millions of times
                n = able[i]
                end = first_ends.get(n.name)
                busy_bounds.append((model._first_end(n) if end is None else end, 0, i))
            busy_bounds.sort()
            self._busy_bounds = busy_bounds
        bounds = sorted([(now, able[i].gpus - able[i].used_gpus, i) for i in self.room])
        base = len(bounds)
        bounds += self._busy_bounds
        if base and self._busy_bounds and bounds[base - 1] > bounds[base]:
            bounds.sort()  # a busy node bounded before now (never while ends are processed in time): exact anyway
        self._ordered = (now, bounds)
        return bounds, able


class SlurmModel:
    """See the module docstring."""

    def __init__(self, nodes: Iterable[SlurmNode], partitions: Iterable[Partition] = (), *,
                 max_reservations: int = 8):
        self.nodes: dict[str, SlurmNode] = {n.name: n for n in nodes}
        self.partitions: dict[str, Partition] = {p.name: p for p in partitions}
        self.max_reservations = max_reservations
        self.jobs: dict[str, SlurmJob] = {}
        self._pending: dict[str, SlurmJob] = {}
        self._running: dict[str, SlurmJob] = {}
        self._seq = itertools.count()
        self._dirty = True
        self._last_pass = -_FOREVER
        self._ends: list[tuple[float, str, float]] = []  # heap of (real end, job, its start) of running jobs
        self._first_ends: dict[str, float] = {}  # node -> _first_end, dropped when its jobs change
        self._reserved: set[str] = set()  # nodes holding a reservation of the current pass
        self._eligible_cache: dict[tuple[str | None, str | None], list[SlurmNode]] = {}
        self._able_cache: dict[Shape, list[SlurmNode]] = {}
        # nodes whose usage changed (a start or an end), in order: what the cached splits catch up on
        self._touched: list[str] = []
        self._free_gpus = sum(n.free_gpus for n in self.nodes.values())  # kept by _start and _release
        self._gpus_total = sum(n.gpus for n in self.nodes.values())  # the node set never changes
        self._splits: dict[Shape, _Split] = {}
        self.version = 0  # grows whenever anything a snapshot shows changes

    # -- membership ------------------------------------------------------------------------------
    def submit(self, job: SlurmJob, now: float) -> SlurmJob:
        """Queue ``job`` at ``now``. Raises ValueError when no set of nodes could ever hold it (sbatch's
        'Requested node configuration is not available')."""
        if job.key in self.jobs:
            raise ValueError(f"job {job.key} exists")
        why = self.never_fits(job)
        if why:
            raise ValueError(why)
        job.submit_time, job.seq, job.state = now, next(self._seq), PENDING
        self.jobs[job.key] = job
        self._pending[job.key] = job
        self._touch()
        return job

    def cancel(self, key: str, now: float) -> SlurmJob | None:
        job = self.jobs.get(key)
        if job is None or job.state in FINISHED:
            return job
        if job.state == RUNNING:
            self._release(job)
            del self._running[key]
        else:
            self._pending.pop(key, None)
        job.state, job.end_time = CANCELLED, now
        self._touch()
        return job

    def forget(self, key: str) -> None:
        """Drop a finished job from the model (the replay keeps the model small)."""
        job = self.jobs.get(key)
        if job is not None and job.state in FINISHED:
            del self.jobs[key]

    def never_fits(self, job: SlurmJob) -> str:
        """Why ``job`` can never run here ('' when it can)."""
        partition = self.partitions.get(job.partition) if job.partition else None
        if job.partition and partition is None:
            return f"invalid partition {job.partition}"
        if partition is not None and partition.max_time is not None and job.time_limit > partition.max_time:
            return f"time limit {job.time_limit:.0f} s over the partition's {partition.max_time:.0f} s"
        able = self._able(job)
        if len(able) < job.nodes:
            return (f"requested node configuration is not available: {job.nodes} node(s) with "
                    f"{job.gpus_per_node} {job.gpu_type or 'any'} GPU(s), {len(able)} exist")
        return ""

    # -- time ------------------------------------------------------------------------------------
    def next_event_time(self) -> float | None:
        """The next time something changes by itself: a running job's end, or a ``--switches`` wait expiring."""
        ends = self._ends
        while ends and (ends[0][1] not in self._running or self._running[ends[0][1]].start_time != ends[0][2]):
            heapq.heappop(ends)  # ended or cancelled
        times = [ends[0][0]] if ends else []
        times += [j.submit_time + j.switch_wait for j in self._pending.values()
                  if j.switches is not None and j.switch_wait > 0 and j.submit_time + j.switch_wait > self._last_pass]
        return min(times) if times else None

    def advance(self, now: float) -> list[SlurmJob]:
        """Finish what ended by ``now``, then run one scheduling pass if anything changed. Returns the jobs that
        started or finished."""
        changed = self._finish_due(now)
        switch_due = any(j.switches is not None and self._last_pass < j.submit_time + j.switch_wait <= now
                         for j in self._pending.values())
        if self._dirty or switch_due:
            changed += self._schedule(now)
        return changed

    def _finish_due(self, now: float) -> list[SlurmJob]:
        done = []
        while self._ends and self._ends[0][0] <= now:
            _, key, started_at = heapq.heappop(self._ends)
            job = self._running.get(key)
            if job is None or job.start_time != started_at:
                continue
            run = min(job.run_seconds, job.time_limit)
            self._release(job)
            del self._running[job.key]
            job.end_time = job.start_time + run
            job.state = TIMEOUT if job.run_seconds > job.time_limit else COMPLETED
            done.append(job)
        if done:
            self._touch()
        return done

    def _touch(self) -> None:
        self._dirty = True
        self.version += 1

    # -- scheduling ------------------------------------------------------------------------------
    def _schedule(self, now: float) -> list[SlurmJob]:
        self._dirty = False
        self._last_pass = now
        for name in self._reserved:  # reservations live for one pass
            node = self.nodes[name]
            node.intervals = [iv for iv in node.intervals if iv[5] in self._running]
        self._reserved = set()
        started: list[SlurmJob] = []
        reserved = 0
        free_now = self._free_gpus
        for job in sorted(self._pending.values(), key=lambda j: (-j.priority, j.submit_time, j.seq)):
            job.expected_start = None
            partition = self.partitions.get(job.partition) if job.partition else None
            if partition is not None and not partition.up:
                job.reason = "PartitionDown"
                continue
            if job.gpus > free_now and reserved >= self.max_reservations:
                job.reason = "Resources" if reserved == 0 else "Priority"
                continue
            found = self._earliest(job, now, now if reserved >= self.max_reservations else _FOREVER)
            if found is None:
                job.reason = "Resources" if reserved == 0 else "Priority"
                continue
            when, hosts = found
            if when <= now:
                self._start(job, hosts, now)
                free_now -= job.gpus
                started.append(job)
                continue
            reserved += 1
            job.expected_start = when
            job.reason = "Resources" if reserved == 1 else "Priority"
            for host in hosts:
                self._reserved.add(host)
                self.nodes[host].intervals.append((when, when + job.time_limit, job.gpus_per_node,
                                                   job.cpus_per_node, job.memory_mib_per_node, "~" + job.key))
        if started:
            self.version += 1
        return started

    def _start(self, job: SlurmJob, hosts: Sequence[str], now: float) -> None:
        job.state, job.start_time, job.allocation, job.reason = RUNNING, now, tuple(hosts), "None"
        heapq.heappush(self._ends, (now + min(job.run_seconds, job.time_limit), job.key, now))
        del self._pending[job.key]
        self._running[job.key] = job
        self._log_touched(hosts)
        for host in hosts:
            node = self.nodes[host]
            self._first_ends.pop(host, None)
            node.used_gpus += job.gpus_per_node
            self._free_gpus -= job.gpus_per_node
            node.used_cpus += job.cpus_per_node
            node.used_memory_mib += job.memory_mib_per_node
            node.intervals.append((now, job.limit_end, job.gpus_per_node, job.cpus_per_node,
                                   job.memory_mib_per_node, job.key))

    def _release(self, job: SlurmJob) -> None:
        self._log_touched(job.allocation)
        for host in job.allocation:
            node = self.nodes[host]
            self._first_ends.pop(host, None)
            node.used_gpus -= job.gpus_per_node
            self._free_gpus += job.gpus_per_node
            node.used_cpus -= job.cpus_per_node
            node.used_memory_mib -= job.memory_mib_per_node
            node.intervals = [iv for iv in node.intervals if iv[5] != job.key]

    def _eligible(self, job: SlurmJob) -> list[SlurmNode]:
        key = (job.partition, job.gpu_type)
        cached = self._eligible_cache.get(key)
        if cached is not None:
            return cached
        partition = self.partitions.get(job.partition) if job.partition else None
        members = set(partition.nodes) if partition is not None and partition.nodes else None
        found = [n for n in self.nodes.values()
                 if (members is None or n.name in members)
                 and (partition is None or not n.partitions or partition.name in n.partitions)
                 and (job.gpu_type is None or n.gpu_type == job.gpu_type)]
        self._eligible_cache[key] = found
        return found

    def _able(self, job: SlurmJob) -> list[SlurmNode]:
        """The eligible nodes big enough for one worker of ``job`` (node sizes never change: cached per shape)."""
        key = job.shape
        found = self._able_cache.get(key)
        if found is None:
            found = self._able_cache[key] = [
                n for n in self._eligible(job) if n.gpus >= job.gpus_per_node and n.cpus >= job.cpus_per_node
                and n.memory_mib >= job.memory_mib_per_node]
        return found

    def _earliest(self, job: SlurmJob, now: float, latest: float) -> tuple[float, list[str]] | None:
        """The earliest time >= now (and <= ``latest``) at which ``job`` fits for its whole time limit, with the
        nodes it would get; None when not by ``latest``.

        Best-first over nodes by a lower bound of their own earliest time: a node's exact earliest time is
        computed only when it could matter, and a start time is settled once no unexamined node could fit
        before it."""
        if len(self._able(job)) < job.nodes:
            return None
        limit_switches = job.switches if job.switches is not None and now < job.submit_time + job.switch_wait \
            else None
        split = self._split(job)
        room = split.room_nodes()
        if latest <= now:  # only a start now counts: the nodes with room that no reservation needs
            able = [n for n in room if n.name not in self._reserved or self._node_fits(n, job, now)]
            if len(able) < job.nodes:
                return None
            able.sort(key=lambda n: (n.gpus - n.used_gpus, n.name))
            hosts = self._pick(able, job, now, limit_switches)
            return None if hosts is None else (now, hosts)
        bounds, eligible = split.ordered(self, now)
        examined: list[tuple[float, SlurmNode]] = []
        times: list[float] = []  # heap of examined nodes' earliest times not settled yet
        position = 0
        while True:
            next_bound = bounds[position][0] if position < len(bounds) else _FOREVER
            if times and times[0] <= latest:
                when = times[0]
                final = when < next_bound or position >= len(bounds)
                able = [n for t, n in examined if t == when or (t < when and self._node_fits(n, job, when))]
                if final or len(able) >= job.nodes:
                    hosts = self._pick(able, job, when, limit_switches)
                    if hosts is not None:
                        return when, hosts
                if final:
                    while times and times[0] == when:
                        heapq.heappop(times)
                    continue
            if position >= len(bounds) or next_bound > latest:
                return None
            node = eligible[bounds[position][2]]
            position += 1
            exact = self._node_earliest(node, job, now, latest)
            examined.append((exact, node))
            if exact <= latest:
                heapq.heappush(times, exact)

    def _log_touched(self, hosts: Sequence[str]) -> None:
        if len(self._touched) > _TOUCHED_LOG_MAX:  # every split rebuilds once rather than the log growing
            self._touched = []
            self._splits.clear()
        self._touched.extend(hosts)

    def _split(self, job: SlurmJob) -> _Split:
        """The able nodes of ``job``'s shape split by room for one worker, shared by every job of that shape
        and kept current as node usage changes (reservations change no usage)."""
        key = job.shape
        found = self._splits.get(key)
        if found is None:
            per_node = (job.gpus_per_node, job.cpus_per_node, job.memory_mib_per_node)
            found = self._splits[key] = _Split(self._able(job), per_node, len(self._touched))
        elif found.seen < len(self._touched):
            found.catch_up(self._touched)
        return found

    def _first_end(self, node: SlurmNode) -> float:
        """When the first running job on ``node`` reaches its time limit (a busy node frees nothing before)."""
        found = self._first_ends.get(node.name)
        if found is None:
            found = min((iv[1] for iv in node.intervals if iv[5] in self._running), default=_FOREVER)
            self._first_ends[node.name] = found
        return found

    def _pick(self, able: list[SlurmNode], job: SlurmJob, when: float,
              limit_switches: int | None) -> list[str] | None:
        """``job.nodes`` hosts out of ``able``: the fullest first (best fit), within ``limit_switches`` leaf
        switches when that applies (the switches with most able nodes first)."""
        if len(able) < job.nodes:
            return None
        if limit_switches is not None:
            by_switch: dict[str, list[SlurmNode]] = {}
            for node in able:
                by_switch.setdefault(node.switch or node.name, []).append(node)
            groups = sorted(by_switch.values(), key=lambda ns: (-len(ns), ns[0].name))[:limit_switches]
            able = [n for group in groups for n in group]
            if len(able) < job.nodes:
                return None
        if limit_switches is None and len(able) == job.nodes:
            return [n.name for n in able]
        if when <= self._last_pass and limit_switches is None:  # a start now: ``able`` is in best-fit order
            return [n.name for n in able[: job.nodes]]
        ranked = sorted(able, key=lambda n: (n.gpus - self._usage(n, when)[0], n.name))
        return [n.name for n in ranked[: job.nodes]]

    @staticmethod
    def _usage(node: SlurmNode, at: float) -> tuple[int, int, int]:
        g = c = m = 0
        for start, end, gpus, cpus, mem, _ in node.intervals:
            if start <= at < end:
                g, c, m = g + gpus, c + cpus, m + mem
        return g, c, m

    def _node_fits(self, node: SlurmNode, job: SlurmJob, when: float) -> bool:
        """True when one worker of ``job`` fits ``node`` during [when, when + time limit)."""
        end = when + job.time_limit
        intervals = node.intervals
        # what may be in use at each point without the worker failing to fit (_usage inlined: millions of calls)
        gpus_cap = node.gpus - job.gpus_per_node
        cpus_cap = node.cpus - job.cpus_per_node
        memory_cap = node.memory_mib - job.memory_mib_per_node
        for at in [when] + [iv[0] for iv in intervals if when < iv[0] < end]:
            g = c = m = 0
            for start, stop, gpus, cpus, mem, _ in intervals:
                if start <= at < stop:
                    g, c, m = g + gpus, c + cpus, m + mem
            if g > gpus_cap or c > cpus_cap or m > memory_cap:
                return False
        return True

    def _node_earliest(self, node: SlurmNode, job: SlurmJob, now: float, latest: float) -> float:
        """The earliest time >= now at which one worker fits ``node`` for its whole limit (inf when none)."""
        if self._node_fits(node, job, now):
            return now
        for when in sorted({iv[1] for iv in node.intervals if now < iv[1] <= latest}):
            if self._node_fits(node, job, when):
                return when
        return _FOREVER

    # -- read-outs -------------------------------------------------------------------------------
    def estimate_start(self, job: SlurmJob, now: float) -> float | None:
        """``sbatch --test-only``: when a new job like ``job`` would start behind the current reservations."""
        partition = self.partitions.get(job.partition) if job.partition else None
        if job.partition and (partition is None or (partition.max_time is not None
                                                    and job.time_limit > partition.max_time)):
            return None
        probe = SlurmJob(**{**job.__dict__, "switches": None})
        found = self._earliest(probe, now, _FOREVER)
        return None if found is None else found[0]

    def pending(self) -> list[SlurmJob]:
        return list(self._pending.values())

    def running(self) -> list[SlurmJob]:
        return list(self._running.values())

    def gpus_total(self) -> int:
        return self._gpus_total

    def gpus_used(self) -> int:
        return self.gpus_total() - self._free_gpus
