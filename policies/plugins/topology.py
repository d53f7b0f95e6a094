"""Score ``topology``: tighter tiers and fuller nodes score higher.

    tier points: node 100, switch 70, spine 40, cluster 10
    packing     = 100 x used / (used + stranded)   (stranded: GPUs left free on the nodes the gang touches)
    raw         = 0.8 x tier points + 0.2 x packing, halved when a soft tier the job asked for is missed

Example: 8 workers x 1 GPU on 8 one-GPU-free nodes under one leaf switch: 0.8 x 70 + 0.2 x 100 = 76.
"""

from __future__ import annotations

from typing import ClassVar

from broker.domain import Job
from policies.candidates import Candidate
from policies.capacity import GangRequest, Tier
from policies.config import PolicyConfig
from policies.framework import RawScore

TIER_POINTS = {Tier.NODE: 100.0, Tier.SWITCH: 70.0, Tier.SPINE: 40.0, Tier.CLUSTER: 10.0}


class TopologyScore:
    name: ClassVar[str] = "topology"

    def __init__(self, config: PolicyConfig):
        self.config = config

    def score(self, job: Job, candidate: Candidate) -> RawScore:
        fit = candidate.fit()
        tier = fit.tier if fit.tier is not None else Tier.CLUSTER
        points = TIER_POINTS[tier]
        packing = 100.0 * fit.used / (fit.used + fit.stranded) if fit.used else 100.0
        raw = 0.8 * points + 0.2 * packing
        detail = f"tier {tier} {points:g} x 0.8 + packing {packing:.1f} x 0.2 = {raw:.1f}"
        wanted = GangRequest.of(job).wanted
        if tier > wanted:
            raw /= 2
            detail += f"; wants {wanted}: halved to {raw:.1f}"
        return RawScore(raw, detail)
