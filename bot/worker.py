"""Runs durable jobs: claim one, hand it to the handler of its kind, complete it (or record the failure).

The job row is the unit of durability: a crash leaves its lease to expire, and another worker (or this
one after a restart) claims it again. While a handler runs, a heartbeat renews the lease; a worker that
loses its lease anyway (a long stall, the database away for longer than the lease) is told through
`JobLease.ensure_held()`, which handlers call before each side effect. Side effects are keyed on stable
ids as well (timeline keys, diagnosis keys, Slack post keys), so a job that runs twice changes nothing.

When the database is unreachable the loop backs off (capped exponential, with jitter) and logs one line
when the outage starts and one when it ends, instead of a traceback per attempt.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

from bot.logs import log_context
from bot.metrics import JOB_DURATION
from bot.ports import CoronerError
from bot.store import Store, StoreUnavailable
from bot.store.jobs import DEFAULT_LEASE, LeaseLost
from bot.store.records import Job

log = logging.getLogger(__name__)


class RetryLater(CoronerError):
    """A handler cannot finish now but will later (Slack rate-limits or is down, a post is in flight
    elsewhere): the job is queued again after `after_seconds` (None: the worker's backoff for the
    attempt), counting one attempt."""

    def __init__(self, message: str, *, after_seconds: float | None) -> None:
        super().__init__(message)
        self.after_seconds = after_seconds


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter: attempt n waits a random time in [0, min(cap, base·2ⁿ)]
    (at least `floor`), so replicas that failed together do not retry together."""

    base: float = 1.0
    cap: float = 300.0
    floor: float = 0.5

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return max(self.floor, random.uniform(0, ceiling))


class JobLease:
    """The lease on one running job, renewed by a heartbeat thread every third of its length."""

    def __init__(self, store: Store, job: Job, *, worker: str, lease: timedelta = DEFAULT_LEASE) -> None:
        self.job = job
        self._store = store
        self._worker = worker
        self._lease = lease
        self._done = threading.Event()
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job.id}", daemon=True)

    def __enter__(self) -> JobLease:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def ensure_held(self) -> None:
        """Raise `LeaseLost` if another worker may own the job now: call before every side effect."""
        if self._lost is not None:
            raise LeaseLost(self._lost)

    def renew(self) -> None:
        try:
            with self._store.unit_of_work() as uow:
                uow.jobs.renew(self.job.id, worker=self._worker, lease=self._lease)
                uow.commit()
        except LeaseLost as exc:
            self._lost = str(exc)
            log.warning("lease lost; the job stops before its next side effect")

    def _beat(self) -> None:
        interval = max(0.05, self._lease.total_seconds() / 3)
        while not self._done.wait(interval):
            try:
                self.renew()
            except StoreUnavailable:
                continue  # the lease may still hold; the next beat tries again
            if self._lost is not None:
                return


Handler = Callable[[Job, JobLease], None]


class JobWorker:
    """Claims jobs of the kinds it has handlers for. Several run per process (CORONER_WORKERS)."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        *,
        name: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        retry_backoff: Backoff = Backoff(base=2.0, cap=300.0),
        outage_backoff: Backoff = Backoff(base=0.5, cap=30.0),
    ) -> None:
        self._store = store
        self._handlers = dict(handlers)
        self.name = name or default_worker_name()
        self._lease = lease
        self._retry_backoff = retry_backoff
        self._outage_backoff = outage_backoff

    def run_once(self) -> Job | None:
        """Run the oldest claimable job; None when the queue is empty. A handler's failure is recorded on
        the job (queued again after a backoff while attempts remain) and re-raised."""
        with self._store.unit_of_work() as uow:  # committed before the handler runs: the lease holds from here
            job = uow.jobs.claim(worker=self.name, lease=self._lease, kinds=list(self._handlers))
            uow.commit()
        if job is None:
            return None
        with log_context(job_id=job.id, kind=job.kind, incident_id=job.payload.get("incident_id")):
            return self._run(job)

    def _run(self, job: Job) -> Job:
        handler = self._handlers[job.kind]
        started = time.monotonic()
        outcome = "error"
        try:
            with JobLease(self._store, job, worker=self.name, lease=self._lease) as lease:
                handler(job, lease)
                lease.ensure_held()
            outcome = "ok"
        except LeaseLost:
            outcome = "lease_lost"
            log.warning("job abandoned: its lease was lost")
            raise
        except RetryLater as exc:
            outcome = "retry"
            delay = exc.after_seconds if exc.after_seconds is not None else self._retry_backoff.delay(job.attempts)
            self._fail(job, f"{exc}", retry_in=delay)
            log.info("job will retry in %.1f s: %s", delay, exc)
            return job
        except Exception as exc:
            self._fail(job, f"{type(exc).__name__}: {exc}", retry_in=self._retry_backoff.delay(job.attempts))
            raise
        finally:
            JOB_DURATION.labels(kind=job.kind, outcome=outcome).observe(time.monotonic() - started)
        with self._store.unit_of_work() as uow:
            done = uow.jobs.complete(job.id, worker=self.name)
            uow.commit()
        log.info("job done in %.2f s", time.monotonic() - started)
        return done

    def _fail(self, job: Job, error: str, *, retry_in: float) -> None:
        try:
            with self._store.unit_of_work() as uow:
                uow.jobs.fail(job.id, worker=self.name, error=error, retry_in=timedelta(seconds=retry_in))
                uow.commit()
        except LeaseLost:
            log.warning("failed job was no longer ours", extra={"job_id": job.id})

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 1.0) -> None:
        """Work through the queue until `stop` is set, polling every `idle_seconds` when it is empty."""
        outage_attempts = 0
        while not stop.is_set():
            try:
                job = self.run_once()
            except StoreUnavailable as exc:
                outage_attempts += 1
                if outage_attempts == 1:
                    log.error("database unavailable; worker %s backs off until it answers: %s", self.name, exc)
                stop.wait(self._outage_backoff.delay(outage_attempts))
                continue
            except LeaseLost:
                job = None
            except Exception:  # recorded on the job; the worker must outlive one bad job
                log.exception("job failed")
                job = None
            if outage_attempts:
                log.warning("database reachable again; worker %s resumes after %d failed attempts",
                            self.name, outage_attempts)
                outage_attempts = 0
            if job is None:
                stop.wait(idle_seconds)


def start_workers(store: Store, handlers_for: Callable[[str], Mapping[str, Handler]], *, count: int,
                  stop: threading.Event, idle_seconds: float = 0.5) -> list[threading.Thread]:
    """`count` worker threads, each its own claimer (the queue hands each job to one of them)."""
    base = default_worker_name()
    threads = []
    for index in range(count):
        name = f"{base}:{index}"
        worker = JobWorker(store, handlers_for(name), name=name)
        thread = threading.Thread(target=worker.run_forever, args=(stop,), kwargs={"idle_seconds": idle_seconds},
                                  name=f"coroner-worker-{index}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
