"""The durable job worker: claim, run the kind's handler, complete; a failure is recorded and retried after
a backoff; the lease is renewed while a handler runs, and a lost lease stops the job before its next side
effect; a database outage is waited out quietly."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.store import Store
from bot.store.records import Job, JobStatus
from bot.worker import Backoff, JobLease, JobWorker, RetryLater

KIND = "test_job"


@pytest.fixture
def store(tmp_path):
    s = Store.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    s.upgrade()
    yield s
    s.dispose()


def enqueue(store: Store, key: str = "k1", **kwargs) -> None:
    with store.unit_of_work() as uow:
        assert uow.jobs.enqueue(kind=KIND, dedupe_key=key, payload={"key": key}, **kwargs)
        uow.commit()


def only_job(store: Store) -> Job:
    with store.unit_of_work() as uow:
        (job,) = uow.jobs.list()
    return job


def test_runs_the_handler_of_the_jobs_kind_and_completes_it(store):
    enqueue(store)
    seen = []
    worker = JobWorker(store, {KIND: lambda job, lease: seen.append(job.payload["key"])}, name="w1")
    assert worker.run_once() is not None
    assert seen == ["k1"] and only_job(store).status == JobStatus.DONE
    assert worker.run_once() is None  # nothing left to claim


def test_a_failure_is_recorded_and_the_retry_waits_for_its_backoff(store):
    enqueue(store)

    def broken(job, lease):
        raise RuntimeError("cluster unreachable")

    worker = JobWorker(store, {KIND: broken}, name="w1", retry_backoff=Backoff(base=60, cap=60, floor=30))
    with pytest.raises(RuntimeError, match="cluster unreachable"):
        worker.run_once()
    job = only_job(store)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1) and "cluster unreachable" in job.last_error
    assert job.available_at is not None and job.available_at >= store.clock.now() + timedelta(seconds=25)
    # Not claimable before its backoff has passed: no tight retry loop on a failing job.
    assert JobWorker(store, {KIND: lambda job, lease: None}, name="w2").run_once() is None


def test_retry_later_requeues_after_the_given_delay_without_an_error(store):
    enqueue(store)

    def rate_limited(job, lease):
        raise RetryLater("Slack said 429", after_seconds=42)

    assert JobWorker(store, {KIND: rate_limited}, name="w1").run_once() is not None
    job = only_job(store)
    assert job.status == JobStatus.QUEUED and "429" in job.last_error
    assert timedelta(seconds=40) <= job.available_at - store.clock.now() <= timedelta(seconds=43)


def test_the_lease_is_renewed_while_the_handler_runs(store):
    """Regression: a job longer than its lease was claimed by a second worker while the first still ran."""
    enqueue(store)
    second_claim = []

    def long_job(job, lease):
        # Longer than the lease: without a heartbeat, another worker could claim it meanwhile.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with store.unit_of_work() as uow:
                second_claim.append(uow.jobs.claim(worker="w2", kinds=[KIND]))
                uow.commit()
            time.sleep(0.1)

    worker = JobWorker(store, {KIND: long_job}, name="w1", lease=timedelta(seconds=1.0))
    assert worker.run_once() is not None
    assert second_claim and all(claim is None for claim in second_claim)
    assert only_job(store).status == JobStatus.DONE and only_job(store).attempts == 1


def test_a_worker_that_lost_its_lease_stops_before_the_side_effect(store):
    enqueue(store)
    effects = []

    def stolen(job, lease: JobLease):
        # Another worker takes the job over (as after a long stall past the lease).
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE jobs SET claimed_by = 'w2'"))
        lease.renew()
        lease.ensure_held()  # raises: the post below must not happen
        effects.append("posted")

    worker = JobWorker(store, {KIND: stolen}, name="w1")
    with pytest.raises(Exception, match="no longer held by w1"):
        worker.run_once()
    assert effects == []
    assert only_job(store).claimed_by == "w2"  # left alone for its new holder


def test_run_forever_survives_a_bad_job_and_stops_when_told(store):
    enqueue(store, "k1")
    enqueue(store, "k2")
    stop = threading.Event()
    calls = []

    def flaky(job, lease):
        calls.append(job.payload["key"])
        if job.payload["key"] == "k1" and calls.count("k1") == 1:
            raise RuntimeError("transient")
        if len(calls) >= 3:
            stop.set()

    worker = JobWorker(store, {KIND: flaky}, retry_backoff=Backoff(base=0.01, cap=0.01, floor=0.0))
    thread = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"idle_seconds": 0.05})
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert sorted(calls) == ["k1", "k1", "k2"]


@pytest.mark.slow  # waits out the claim backoff, seconds
def test_a_database_outage_is_waited_out_with_backoff_and_two_log_lines(tmp_path, caplog):
    """Regression: with the database away the worker spun at 96 % CPU and logged ~10,000 tracebacks in 11 s."""
    path = tmp_path / "c.db"
    store = Store.from_url(f"sqlite:///{path}")
    store.upgrade()
    enqueue(store)
    # A database that cannot be reached: every claim fails like a lost connection. Claims are counted
    # (each opens a unit of work, which is all a worker does while the queue is unreachable).
    class CountingStore(Store):
        claims = 0

        def unit_of_work(self):
            CountingStore.claims += 1
            return super().unit_of_work()

    broken = CountingStore.from_url(f"sqlite:///{tmp_path / 'missing' / 'c.db'}")
    worker = JobWorker(broken, {KIND: lambda job, lease: None}, name="w1",
                       outage_backoff=Backoff(base=0.2, cap=0.4, floor=0.1))
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="bot.worker")
    thread = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"idle_seconds": 0.05})
    thread.start()
    time.sleep(2.0)
    attempts_while_down = CountingStore.claims
    # The database comes back (here: the worker is pointed at the real one).
    worker._store = store
    time.sleep(1.5)
    stop.set()
    thread.join(timeout=10)
    outage = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    recovered = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(outage) == 1 and len(recovered) == 1
    assert not any(r.exc_info for r in caplog.records)  # no traceback per attempt
    # Backoff between 0.1 and 0.4 s: a handful of attempts in 2 s, not thousands.
    assert 2 <= attempts_while_down <= 25
    assert only_job(store).status == JobStatus.DONE  # and caught up once the database answered
    broken.dispose()
    store.dispose()
