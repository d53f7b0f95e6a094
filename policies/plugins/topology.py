"""Score ``topology``: tighter tiers and fuller nodes score higher.

    tier points: node 100, switch 70, spine 40, cluster 10
    packing     = 100 x used / (used + stranded)   (stranded: GPUs left free on the nodes the gang touches)
    raw         = 0.8 x tier points + 0.2 x packing, halved when a soft tier the job asked for is missed

A tier the backend cannot enforce counts as cluster: a multi-worker gang fitted in one node on a backend
listing ``topology.node`` as unsupported, or in one switch / spine on one listing ``topology.switch`` (the
capacity is there, but the backend's scheduler will not keep the gang together).

Example: 8 workers x 1 GPU on 8 one-GPU-free nodes under one leaf switch: 0.8 x 70 + 0.2 x 100 = 76.
"""

from __future__ import annotations

from typing import ClassVar

from dualtrack.broker.domain import Feature, Job
from dualtrack.policies.candidates import Candidate
from dualtrack.policies.capacity import Tier
from dualtrack.policies.config import PolicyConfig
from dualtrack.policies.framework import RawScore

TIER_POINTS = {Tier.NODE: 100.0, Tier.SWITCH: 70.0, Tier.SPINE: 40.0, Tier.CLUSTER: 10.0}


class TopologyScore:
    name: ClassVar[str] = "topology"

    def __init__(self, config: PolicyConfig):
        self.config = config

    def score(self, job: Job, candidate: Candidate) -> RawScore:
        fit = candidate.fit()
        tier = fit.tier if fit.tier is not None else Tier.CLUSTER
        unenforced = _unenforced(tier, job, candidate)
        if unenforced:
            tier = Tier.CLUSTER
        points = TIER_POINTS[tier]
        packing = 100.0 * fit.used / (fit.used + fit.stranded) if fit.used else 100.0
        raw = 0.8 * points + 0.2 * packing
        detail = f"tier {tier} {points:g} x 0.8 + packing {packing:.1f} x 0.2 = {raw:.1f}"
        if unenforced:
            detail = f"{unenforced}; {detail}"
        wanted = candidate.request.wanted
        if tier > wanted:
            raw /= 2
            detail += f"; wants {wanted}: halved to {raw:.1f}"
        return RawScore(raw, detail)


def _unenforced(tier: Tier, job: Job, candidate: Candidate) -> str:
    """Why the backend cannot hold the gang to ``tier`` ("" when it can)."""
    unsupported = candidate.info.unsupported
    if tier is Tier.NODE and job.spec.spec.resources.workers > 1 and Feature.TOPOLOGY_NODE in unsupported:
        return f"{candidate.backend} cannot keep a gang in one node ({unsupported[Feature.TOPOLOGY_NODE]})"
    if tier in (Tier.SWITCH, Tier.SPINE) and Feature.TOPOLOGY_SWITCH in unsupported:
        return f"{candidate.backend} cannot keep a gang under one switch ({unsupported[Feature.TOPOLOGY_SWITCH]})"
    return ""
