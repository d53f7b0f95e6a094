"""Filter ``features``: a job needing a feature the backend lists as unsupported is UNRESOLVABLE there.

Features a job needs: ``gang`` and ``multiWorker`` for more than one worker, ``gpuType`` when it names one,
``datasets`` when it mounts datasets, ``topology.node`` / ``topology.switch`` for a *hard* tier of a
multi-worker gang (a soft tier is only a preference, scored by ``topology``). ``timeLimit`` is not checked:
every job has one by default. A dataset the backend cannot mount at /datasets/<name> (not in its datasets
map, docs/yolo.md#datasets) makes the job UNRESOLVABLE there too, with the names the backend has.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Feature, Job
from dualtrack.broker.domain.spec import TopologyMode, TopologyTier
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import FilterResult


def needed_features(job: Job) -> list[Feature]:
    spec = job.spec.spec
    needed: list[Feature] = []
    if spec.resources.workers > 1:
        needed += [Feature.GANG, Feature.MULTI_WORKER]
    if spec.resources.gpu_type:
        needed.append(Feature.GPU_TYPE)
    if spec.datasets:
        needed.append(Feature.DATASET_VOLUMES)
    if spec.topology.mode is TopologyMode.HARD and spec.resources.workers > 1:  # one worker is one node anyway
        if spec.topology.tier is TopologyTier.NODE:
            needed.append(Feature.TOPOLOGY_NODE)
        elif spec.topology.tier is TopologyTier.SWITCH:
            needed.append(Feature.TOPOLOGY_SWITCH)
    return needed


class SupportedFeatures:
    name: ClassVar[str] = "features"
    gate: ClassVar[bool] = False

    def __init__(self, config: PolicyConfig):
        self.config = config

    def filter(self, job: Job, candidate: Candidate) -> FilterResult:
        unsupported = candidate.info.unsupported
        missing = [f"{f.value} ({unsupported[f]})" for f in needed_features(job) if f in unsupported]
        if missing:
            return FilterResult.unresolvable(f"{candidate.backend} does not support {'; '.join(missing)}")
        mountable = candidate.info.datasets
        absent = [name for name in job.spec.spec.datasets if mountable is not None and name not in mountable]
        if absent:
            has = ", ".join(sorted(mountable or ())) or "none"
            return FilterResult.unresolvable(
                f"{candidate.backend} cannot mount dataset {', '.join(map(repr, absent))} at /datasets "
                f"(it mounts: {has})")
        return FilterResult.ok()
