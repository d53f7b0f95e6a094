"""Version-neutral records the parsers produce and the backend consumes (one shape for every Slurm version
and transport). Times are epoch seconds, memory MiB (as Slurm counts it), limits seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    name: str
    state: str  # base state, upper case: PENDING, RUNNING, COMPLETED, ...
    flags: tuple[str, ...] = ()  # state flags: COMPLETING, CONFIGURING, REQUEUED, ...
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    nodes: str = ""  # host list expression
    partition: str = ""
    comment: str = ""
    gpus: int = 0  # GPUs the whole job asked for
    time_limit_s: int | None = None
    submit_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None


@dataclass(frozen=True)
class NodeRecord:
    name: str
    states: frozenset[str]  # upper case: IDLE, MIXED, ALLOCATED, DOWN, DRAIN, NOT_RESPONDING, ...
    cpus: int = 0
    alloc_cpus: int = 0
    memory_mb: int = 0
    alloc_memory_mb: int = 0
    gres: str = ""
    gres_used: str = ""
    partitions: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class PartitionRecord:
    name: str
    up: bool = True
    max_time_s: int | None = None
    nodes: str = ""


@dataclass(frozen=True)
class SwitchRecord:
    name: str
    level: int = 0
    nodes: tuple[str, ...] = ()
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestOnlyResult:
    """``sbatch --test-only``: an estimated start (epoch) and nodes, or Slurm's error text."""

    __test__ = False  # not a pytest test class despite its name

    start: float | None = None
    nodes: str = ""
    error: str | None = None
