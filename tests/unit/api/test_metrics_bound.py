"""Tenant labels are bounded (docs/operations.md, Series bound): 2,000 refused and 2,000 accepted specs with
random tenants leave at most the documented number of tenant series, and no label from a refused spec."""

from __future__ import annotations

import random
from collections.abc import Callable

from dualtrack.broker.metrics.vocabulary import JOB_STATES, SUBMISSION_OUTCOMES
from dualtrack.v1 import broker_pb2 as pb
from tests.inprocess import InProcessBroker
from tests.unit.api.conftest import spec_text


def tenant_series(server: InProcessBroker) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    series = set()
    for family in server.ctx.metrics.registry.collect():
        for sample in family.samples:
            if "tenant" in sample.labels:
                series.add((sample.name, tuple(sorted(sample.labels.items()))))
    return series


def test_random_tenants_fold_into_other(make_server: Callable[..., InProcessBroker]) -> None:
    server = make_server({"metrics": {"tenants": ["vision-qa"]}})
    rng = random.Random(14)

    def tenant() -> str:
        return "t" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))

    with server.channel() as channel:
        stub = server.stub(channel)
        for batch in range(40):
            calls = []
            for i in range(50):
                good = spec_text(f"j{batch}-{i}", tenant())
                bad = spec_text(f"j{batch}-{i}", tenant() + "\\x07").replace("tenant: ", 'tenant: "') \
                    .replace("\\x07\n", '\\x07"\n')
                calls.append(stub.SubmitJob.future(pb.SubmitJobRequest(spec_yaml=good), timeout=60))
                calls.append(stub.SubmitJob.future(pb.SubmitJobRequest(spec_yaml=bad), timeout=60))
            outcomes = [c.exception() is None for c in calls]
            assert outcomes.count(True) == 50, [c.exception() for c in calls if c.exception()][:1]
        stub.SubmitJob(pb.SubmitJobRequest(spec_yaml=spec_text("qa", "vision-qa")), timeout=10)

    series = tenant_series(server)
    tenants = {dict(labels)["tenant"] for _, labels in series}
    assert tenants == {"vision-qa", "other"}
    # the documented bound: (labelled tenants + 1) x (4 submission outcomes + 9 states x (backends + 1))
    backends = len(server.ctx.backends.names()) + 1
    bound = 2 * (len(SUBMISSION_OUTCOMES) + len(JOB_STATES) * backends)
    assert len(series) <= bound
    sample = server.ctx.metrics.registry.get_sample_value
    assert sample("dualtrack_submissions_total", {"tenant": "other", "outcome": "accepted"}) == 2000
    assert sample("dualtrack_submissions_total", {"tenant": "other", "outcome": "invalid"}) == 2000
    assert sample("dualtrack_jobs", {"tenant": "other", "state": "ACCEPTED", "backend": ""}) == 2000
