import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bot.store import JobStatus, LeaseLost, Store, make_engine

LEASE = timedelta(minutes=5)


# Each step of a job's life in its own committed unit of work, as the worker runs them.


def enqueue(store, key, *, kind="diagnose", payload=None, **kwargs):
    with store.unit_of_work() as uow:
        queued = uow.jobs.enqueue(kind=kind, dedupe_key=key, payload={"key": key} if payload is None else payload,
                                  **kwargs)
        uow.commit()
    return queued is not None


def claim(store, worker, lease=LEASE, kinds=None):
    with store.unit_of_work() as uow:
        job = uow.jobs.claim(worker=worker, lease=lease, kinds=kinds)
        uow.commit()
    return job


def complete(store, job_id, *, worker):
    with store.unit_of_work() as uow:
        job = uow.jobs.complete(job_id, worker=worker)
        uow.commit()
    return job


def fail(store, job_id, *, worker, error, retry_in=None):
    with store.unit_of_work() as uow:
        job = uow.jobs.fail(job_id, worker=worker, error=error, retry_in=retry_in)
        uow.commit()
    return job


def test_enqueue_is_once_per_dedupe_key(store):
    assert enqueue(store, "diagnose:pd-1")
    assert not enqueue(store, "diagnose:pd-1")
    with store.unit_of_work() as uow:
        assert [j.dedupe_key for j in uow.jobs.list()] == ["diagnose:pd-1"]


def test_claim_filters_by_kind(store):
    enqueue(store, "pm:1", kind="postmortem", payload={})
    enqueue(store, "d:1", kind="diagnose", payload={})
    assert claim(store, "w", kinds=["diagnose"]).dedupe_key == "d:1"
    assert claim(store, "w", kinds=["diagnose"]) is None


def test_claim_complete(store):
    enqueue(store, "k1")
    job = claim(store, "w1")
    assert job.status is JobStatus.RUNNING and job.attempts == 1 and job.claimed_by == "w1"
    assert job.payload == {"key": "k1"}
    assert claim(store, "w2") is None  # leased to w1
    done = complete(store, job.id, worker="w1")
    assert done.status is JobStatus.DONE
    assert claim(store, "w2") is None


def test_expired_lease_makes_the_job_claimable_again(store, clock):
    enqueue(store, "k1")
    first = claim(store, "w1")
    clock.advance(minutes=4)
    assert claim(store, "w2") is None
    clock.advance(minutes=2)
    second = claim(store, "w2")
    assert second.id == first.id and second.claimed_by == "w2" and second.attempts == 2
    with pytest.raises(LeaseLost):
        complete(store, first.id, worker="w1")  # w1 came back too late
    with pytest.raises(LeaseLost):
        fail(store, first.id, worker="w1", error="late")


def test_a_lapsed_lease_no_one_claimed_is_still_the_workers(store, clock):
    """Regression: a heartbeat that ran late on a busy machine made the worker throw away finished work."""
    enqueue(store, "k1")
    job = claim(store, "w1")
    clock.advance(minutes=6)
    with store.unit_of_work() as uow:
        uow.jobs.renew(job.id, worker="w1", lease=LEASE)
        uow.commit()
    assert claim(store, "w2") is None
    assert complete(store, job.id, worker="w1").status is JobStatus.DONE


def test_a_renewed_lease_keeps_the_job(store, clock):
    enqueue(store, "k1")
    job = claim(store, "w1")
    clock.advance(minutes=4)
    with store.unit_of_work() as uow:
        uow.jobs.renew(job.id, worker="w1", lease=LEASE)
        uow.commit()
    clock.advance(minutes=4)
    assert claim(store, "w2") is None


def test_failures_requeue_until_attempts_run_out(store):
    enqueue(store, "k1", max_attempts=2)
    job = claim(store, "w1")
    assert fail(store, job.id, worker="w1", error="cluster unreachable").status is JobStatus.QUEUED
    job = claim(store, "w1")
    failed = fail(store, job.id, worker="w1", error="cluster unreachable")
    assert failed.status is JobStatus.FAILED and failed.last_error == "cluster unreachable"
    assert claim(store, "w1") is None


def test_a_job_whose_worker_died_on_the_last_attempt_ends_failed(store, clock):
    enqueue(store, "k1", max_attempts=1)
    job = claim(store, "w1")
    clock.advance(minutes=10)
    assert claim(store, "w2") is None
    with store.unit_of_work() as uow:
        assert uow.jobs.get(job.id).status is JobStatus.FAILED


def test_concurrent_claimers_get_each_job_exactly_once(database_url, clock):
    """Several workers, each with its own engine (like replicas), drain the queue together."""
    seed = Store.from_url(database_url, clock=clock)
    seed.upgrade()
    for n in range(40):
        enqueue(seed, f"k{n}")
    workers = [Store.from_url(database_url, clock=clock) for _ in range(4)]
    start = threading.Barrier(len(workers))

    def drain(index):
        start.wait()
        got = []
        while (job := claim(workers[index], f"w{index}")) is not None:
            got.append(job.id)
        return got

    with ThreadPoolExecutor(len(workers)) as pool:
        results = list(pool.map(drain, range(len(workers))))
    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 40
    for s in (seed, *workers):
        s.dispose()


def test_postgres_claim_skips_a_row_locked_by_an_uncommitted_claim(postgres_url, clock):
    """`FOR UPDATE SKIP LOCKED`: the second claimer does not wait for the first, nor take its job."""
    a = Store.from_url(postgres_url, clock=clock)
    # Without SKIP LOCKED, b would wait for a's lock forever (a commits only after b returns): time out.
    b = Store(make_engine(postgres_url, connect_args={"options": "-c lock_timeout=3000"}), clock=clock)
    a.upgrade()
    enqueue(a, "k1")
    enqueue(a, "k2")
    with a.unit_of_work() as uow_a:
        job_a = uow_a.jobs.claim(worker="a")  # row locked, not committed yet
        with ThreadPoolExecutor(1) as pool:
            job_b = pool.submit(claim, b, "b").result(timeout=30)
        uow_a.commit()
    assert {job_a.dedupe_key, job_b.dedupe_key} == {"k1", "k2"}
    assert claim(b, "c") is None
    a.dispose()
    b.dispose()


def test_make_due_brings_forward_the_queued_jobs_of_one_kind(database_url):
    from datetime import timedelta

    store = Store.from_url(database_url)
    enqueue(store, "p1", kind="post_to_slack", payload={})
    enqueue(store, "d1", kind="diagnose_incident", payload={})
    for kind in ("post_to_slack", "diagnose_incident"):
        job = claim(store, "w", kinds=[kind])
        fail(store, job.id, worker="w", error="Slack down", retry_in=timedelta(minutes=10))
    assert claim(store, "w") is None  # both wait out their backoff
    with store.unit_of_work() as uow:
        assert uow.jobs.make_due("post_to_slack") == 1
        uow.commit()
    assert claim(store, "w").kind == "post_to_slack"
    assert claim(store, "w") is None  # the other kind still waits
    store.dispose()
