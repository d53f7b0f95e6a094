"""A 6-job trace whose best schedule is worked out by hand: ``live`` finds it, ``static`` does not."""

from __future__ import annotations

from dualtrack.sim.replay.metrics import summarize
from dualtrack.sim.replay.runner import ReplayOptions, run_policy
from tests.unit.sim.helpers import trace_job, two_backends

JOBS = [trace_job(f"a{i}", 0, 100, gpus=4, tenant="a") for i in range(1, 5)] + [
    trace_job(f"b{i}", 0, 100, gpus=2, tenant="b") for i in (5, 6)]


def test_live_finds_the_hand_worked_best_schedule_and_static_does_not() -> None:
    """Backends k (Kubernetes) and s (Slurm), one 4-GPU node each; static pins tenant a to k, b to s.
    All six jobs arrive at 0 and run 100 s: a1..a4 take 4 GPUs, b5 and b6 take 2.

    static: k runs a1..a4 one after another (starts 0, 100, 200, 300); s runs b5 + b6 at 0 and then idles.
            waits 0 + 100 + 200 + 300 + 0 + 0 = 600, mean 100 s, max 300 s.
    best:   demand is 4x4x100 + 2x2x100 = 2000 GPU-s on 8 GPUs, so the last job cannot end before 250 s, and
            with 4-GPU jobs 300 s. t=0: a1 on k, b5 + b6 on s; t=100: a2 on k, a3 on s; t=200: a4.
            waits 0 + 100 + 100 + 200 + 0 + 0 = 400, mean 66.7 s, max 200 s. (Starting a1 and a2 at 0 instead
            pushes b5, b6 to 100: 0 + 0 + 100 + 200 + 100 + 100 = 500.)
    live:   DRF order places a1, then tenant b (now the lower share) takes s with b5 and b6; the rest follow
            as nodes free up: the best schedule.
    """
    clusters = two_backends(split={"a": "k", "b": "s"})
    options = ReplayOptions(cycle_seconds=10.0)
    static = summarize(run_policy("static", JOBS, clusters, options))
    live_run = run_policy("live", JOBS, clusters, options)
    live = summarize(live_run)
    assert (static["mean_wait_s"], static["max_wait_s"]) == (100.0, 300.0)
    assert (live["mean_wait_s"], live["max_wait_s"]) == (round(400 / 6, 3), 200.0)
    starts = {r.id: r.start for r in live_run.records}
    assert starts == {"a1": 0.0, "a2": 100.0, "a3": 100.0, "a4": 200.0, "b5": 0.0, "b6": 0.0}
