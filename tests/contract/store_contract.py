"""The job store contract: one abstract suite, subclassed once per store implementation
(tests/unit/store/test_sqlite_store.py, tests/integration/postgres/test_postgres_store.py).

A subclass provides the ``store`` fixture yielding a fresh, empty store.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dualtrack.broker.domain import (
    BackendRef,
    CandidateEvaluation,
    Explanation,
    FilterStatus,
    FilterVerdict,
    InvalidTransition,
    JobState,
    MigrationRequest,
    Placement,
    ScoreRecord,
    parse_spec_yaml,
)
from dualtrack.broker.store import Changes, IdempotencyConflict, JobNotFound, NewJob, StaleJob, Write

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def spec(name: str = "yolo-1gpu", tenant: str | None = None, epochs: int | None = None):  # type: ignore[no-untyped-def]
    text = (EXAMPLES / f"{name}.yaml").read_text()
    parsed = parse_spec_yaml(text)
    if tenant is not None:
        parsed = parsed.model_copy(update={"metadata": parsed.metadata.model_copy(update={"tenant": tenant})})
    if epochs is not None:
        assert parsed.spec.yolo is not None
        yolo = parsed.spec.yolo.model_copy(update={"epochs": epochs})
        parsed = parsed.model_copy(update={"spec": parsed.spec.model_copy(update={"yolo": yolo})})
    return parsed


class StoreContract:
    def test_create_then_get_returns_the_same_job(self, store) -> None:  # type: ignore[no-untyped-def]
        created = store.create(NewJob(spec(), "text"))
        got = store.get(created.job.id)
        assert got.id == created.job.id
        assert got.state is JobState.ACCEPTED
        assert got.attempt == 1
        assert got.spec == created.job.spec
        assert store.spec_yaml(got.id) == "text"

    def test_get_unknown_raises_not_found(self, store) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(JobNotFound):
            store.get("jdoesnotexist")

    def test_every_create_writes_an_accepted_event(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        events = store.events(job_id=job.id)
        assert [e.state for e in events] == [JobState.ACCEPTED]

    def test_idempotency_key_returns_first_job_for_same_spec(self, store) -> None:  # type: ignore[no-untyped-def]
        first = store.create(NewJob(spec(), "t", "key-1"))
        again = store.create(NewJob(spec(), "t", "key-1"))
        assert again.duplicate and again.job.id == first.job.id
        assert not first.duplicate

    def test_idempotency_key_with_other_spec_conflicts(self, store) -> None:  # type: ignore[no-untyped-def]
        store.create(NewJob(spec(), "t", "key-2"))
        with pytest.raises(IdempotencyConflict):
            store.create(NewJob(spec(epochs=7), "t", "key-2"))

    def test_idempotency_keys_are_per_tenant(self, store) -> None:  # type: ignore[no-untyped-def]
        a = store.create(NewJob(spec(tenant="team-a"), "t", "same"))
        b = store.create(NewJob(spec(tenant="team-b"), "t", "same"))
        assert a.job.id != b.job.id and not b.duplicate

    def test_create_many_is_one_transaction_with_an_outcome_each(self, store) -> None:  # type: ignore[no-untyped-def]
        store.create(NewJob(spec(), "t", "taken"))
        outcomes = store.create_many([NewJob(spec(), "a"), NewJob(spec(epochs=9), "b", "taken"),
                                      NewJob(spec(), "c", "new"), NewJob(spec(), "d", "new")])
        assert [type(o).__name__ for o in outcomes] == ["Created", "IdempotencyConflict", "Created", "Created"]
        assert outcomes[3].duplicate and outcomes[3].job.id == outcomes[2].job.id  # same key, same spec
        created_at = {store.get(o.job.id).created_at for o in (outcomes[0], outcomes[2])}
        assert len(created_at) == 1  # one transaction: one clock reading
        assert store.spec_yaml(outcomes[0].job.id) == "a"
        assert store.create_many([]) == []

    def test_transition_applies_changes_and_appends_event(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        placed = store.transition(job, JobState.PLACED, "to b1", Changes(placement=Placement("b1", "gpu")))
        ref = BackendRef("b1", placed.object_name, "42")
        submitted = store.transition(placed, JobState.SUBMITTED, "sent", Changes(backend_ref=ref))
        got = store.get(job.id)
        assert got == submitted
        assert got.backend == "b1" and got.backend_ref == ref and got.placement == Placement("b1", "gpu")
        assert [e.state for e in store.events(job_id=job.id)] == [
            JobState.ACCEPTED, JobState.PLACED, JobState.SUBMITTED]

    def test_transition_outside_the_table_is_refused(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        with pytest.raises(InvalidTransition):
            store.transition(job, JobState.RUNNING)
        done = store.transition(job, JobState.CANCELLED)
        with pytest.raises(InvalidTransition):
            store.transition(done, JobState.PLACED)

    def test_compare_and_set_rejects_a_stale_copy(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        store.transition(job, JobState.CANCELLED, "user")
        with pytest.raises(StaleJob) as caught:
            store.transition(job, JobState.PLACED, "reconciler", Changes(placement=Placement("b1")))
        assert caught.value.actual is JobState.CANCELLED
        assert store.get(job.id).state is JobState.CANCELLED

    def test_concurrent_transitions_exactly_one_wins(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        wins: list[str] = []
        barrier = threading.Barrier(8)

        def racer(i: int) -> None:
            barrier.wait()
            try:
                store.transition(job, JobState.PLACED, f"racer {i}", Changes(placement=Placement(f"b{i}")))
                wins.append(f"b{i}")
            except StaleJob:
                pass

        threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
        assert store.get(job.id).backend == wins[0]

    def test_retry_clears_backend_and_raises_attempt(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        job = store.transition(job, JobState.PLACED, changes=Changes(placement=Placement("b1")))
        job = store.transition(job, JobState.SUBMITTED, changes=Changes(backend_ref=BackendRef("b1", "n", "1")))
        retried = store.transition(job, JobState.ACCEPTED, "node failure",
                                   Changes(attempt=2, clear_backend=True, exclude_backend="b1"))
        got = store.get(job.id)
        assert got == retried
        assert got.attempt == 2 and got.backend is None and got.backend_ref is None
        assert got.excluded_backends == ("b1",)
        assert got.object_name.endswith("-2")

    def test_write_many_applies_each_write_or_says_why_not(self, store) -> None:  # type: ignore[no-untyped-def]
        a, b, c, d = (store.create(NewJob(spec(), "t")).job for _ in range(4))
        stale = store.update(b, "moved on", Changes(reason="newer"))
        mark = store.last_seq()
        outcomes = store.write_many([
            Write(a, JobState.PLACED, "placed a", Changes(placement=Placement("b1"))),
            Write(b, JobState.PLACED, "placed b"),  # b changed since: stale
            Write(c, JobState.RUNNING),  # not in the table
            Write(d, None, "a note on d", Changes(reason="waiting")),
            Write(a.evolve(id="jnope"), JobState.PLACED),
        ])
        placed, refused, invalid, noted, missing = outcomes
        assert placed.state is JobState.PLACED and placed.placement == Placement("b1") and placed == store.get(a.id)
        assert isinstance(refused, StaleJob) and store.get(b.id) == stale
        assert isinstance(invalid, InvalidTransition) and store.get(c.id).state is JobState.ACCEPTED
        assert noted.state is JobState.ACCEPTED and noted.reason == "waiting" and noted == store.get(d.id)
        assert isinstance(missing, JobNotFound)
        events = store.events(after_seq=mark)
        assert [(e.job_id, e.state, e.message) for e in events] == [
            (a.id, JobState.PLACED, "placed a"), (d.id, None, "a note on d")]

    def test_update_keeps_state_and_writes_a_note(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        updated = store.update(job, "waiting for GPUs", Changes(reason="no free GPUs"))
        assert store.get(job.id).reason == "no free GPUs" and updated.state is JobState.ACCEPTED
        assert store.events(job_id=job.id)[-1].message == "waiting for GPUs"

    def test_a_migration_request_is_stored_and_cleared(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        request = MigrationRequest("kube-b", False, 123.5, "kube-a", 1, "draining")
        asked = store.update(job, "migration requested", Changes(migration=request))
        assert asked.migration == request and store.get(job.id).migration == request
        cleared = store.update(asked, "", Changes(clear_migration=True))
        assert cleared.migration is None and store.get(job.id).migration is None

    def test_list_filters_and_paginates_newest_first(self, store) -> None:  # type: ignore[no-untyped-def]
        ids = [store.create(NewJob(spec(tenant="t1" if i % 2 else "t2"), "t")).job.id for i in range(7)]
        first = store.list_jobs(tenant="t1", page_size=2)
        assert [j.tenant for j in first.jobs] == ["t1", "t1"] and first.next_page_token
        second = store.list_jobs(tenant="t1", page_size=2, page_token=first.next_page_token)
        listed = [j.id for j in first.jobs + second.jobs]
        assert listed == sorted([i for n, i in enumerate(ids) if n % 2], reverse=True)[:4]
        assert second.next_page_token == ""  # 3 t1 jobs: 2 + 1
        only_cancelled = store.list_jobs(states=[JobState.CANCELLED])
        assert only_cancelled.jobs == []

    def test_active_and_get_many(self, store) -> None:  # type: ignore[no-untyped-def]
        a = store.create(NewJob(spec(), "t")).job
        b = store.create(NewJob(spec(), "t")).job
        store.transition(b, JobState.CANCELLED)
        assert [j.id for j in store.active([JobState.ACCEPTED])] == [a.id]
        many = store.get_many([a.id, b.id, "jnope"])
        assert set(many) == {a.id, b.id}

    def test_every_read_returns_the_stored_explanation_exactly(self, store) -> None:  # type: ignore[no-untyped-def]
        explanation = Explanation(
            decided_at=1_700_000_000.25, winner="b1", winner_pool="p", summary="b1: fits now",
            candidates=(CandidateEvaluation("b1", "p", FilterStatus.OK, (FilterVerdict("fits", FilterStatus.OK),),
                                            (ScoreRecord("wait", 75.5, 2.0, 151.0, "now"),), 151.0),
                        CandidateEvaluation("b2", None, FilterStatus.UNRESOLVABLE,
                                            (FilterVerdict("gpus", FilterStatus.UNRESOLVABLE, "no A100"),))),
        )
        job = store.create(NewJob(spec(), "t")).job
        other = store.create(NewJob(spec(), "t")).job
        store.transition(job, JobState.PLACED, changes=Changes(placement=Placement("b1", "p"),
                                                               explanation=explanation))
        assert store.get(job.id).explanation == explanation
        assert store.get_many([job.id])[job.id].explanation == explanation
        assert [j.explanation for j in store.active([JobState.PLACED])] == [explanation]
        assert store.list_jobs(states=[JobState.PLACED]).jobs[0].explanation == explanation
        assert store.get(other.id).explanation is None

    def test_active_sees_every_change_of_a_job_it_returned_before(self, store) -> None:  # type: ignore[no-untyped-def]
        job = store.create(NewJob(spec(), "t")).job
        (first,) = store.active([JobState.ACCEPTED, JobState.PLACED])
        store.update(first, "a note", Changes(reason="waiting for GPUs"))
        (second,) = store.active([JobState.ACCEPTED, JobState.PLACED])
        assert second.reason == "waiting for GPUs" and second.version == first.version + 1
        placed = store.transition(second, JobState.PLACED, changes=Changes(placement=Placement("b1")))
        (third,) = store.active([JobState.ACCEPTED, JobState.PLACED])
        assert third.state is JobState.PLACED and third.placement == Placement("b1") and third == placed
        store.transition(third, JobState.CANCELLED)
        assert store.active([JobState.ACCEPTED, JobState.PLACED]) == []
        assert store.get_many([job.id])[job.id].state is JobState.CANCELLED

    def test_counts_group_by_state_backend_tenant(self, store) -> None:  # type: ignore[no-untyped-def]
        for _ in range(3):
            store.create(NewJob(spec(tenant="x"), "t"))
        job = store.create(NewJob(spec(tenant="y"), "t")).job
        store.transition(job, JobState.PLACED, changes=Changes(placement=Placement("b9")))
        counts = set(store.counts())
        assert ("ACCEPTED", "", "x", 3) in counts and ("PLACED", "b9", "y", 1) in counts

    def test_events_after_seq(self, store) -> None:  # type: ignore[no-untyped-def]
        first = store.create(NewJob(spec(), "t")).job
        mark = store.last_seq()
        second = store.create(NewJob(spec(), "t")).job
        later = store.events(after_seq=mark)
        assert [e.job_id for e in later] == [second.id]
        assert first.id not in {e.job_id for e in later}

    def test_concurrent_creates_are_all_stored(self, store) -> None:  # type: ignore[no-untyped-def]
        made: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(25):
                job = store.create(NewJob(spec(), "t")).job
                with lock:
                    made.append(job.id)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(made)) == 200
        assert len(store.get_many(made)) == 200

    def test_lease_is_exclusive_until_it_expires_or_is_released(self, store) -> None:  # type: ignore[no-untyped-def]
        assert store.try_acquire_lease("reconciler", "a", ttl=30)
        assert not store.try_acquire_lease("reconciler", "b", ttl=30)
        assert store.try_acquire_lease("reconciler", "a", ttl=30)  # renewal
        store.release_lease("reconciler", "a")
        assert store.try_acquire_lease("reconciler", "b", ttl=0.01)
        import time

        time.sleep(0.05)
        assert store.try_acquire_lease("reconciler", "a", ttl=30)  # b's lease expired
