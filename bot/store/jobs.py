"""Durable jobs: a queue in the database that survives restarts and runs each job once across replicas.

A worker claims a job under a lease (`lease_until`). On PostgreSQL the claim selects the candidate row
`FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows instead of queueing on them or
taking the same one. On SQLite every transaction already holds the single write lock (`BEGIN IMMEDIATE`,
see `bot.store.db`), which gives the same guarantee with one writer at a time. A worker that dies stops
renewing its lease; when the lease passes the job is claimable again, until `max_attempts` is spent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.ports import Clock
from bot.store.db import StoreError
from bot.store.models import JobRow, table_of
from bot.store.records import Job, JobStatus
from bot.store.repositories import insert_ignoring_conflicts

DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 3


class LeaseLost(StoreError):
    """The worker no longer holds the job: its lease expired and the job was claimed again or failed."""


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        dedupe_key=row.dedupe_key,
        payload=dict(row.payload),
        status=JobStatus(row.status),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        lease_until=row.lease_until,
        available_at=row.available_at,
        claimed_by=row.claimed_by,
        last_error=row.last_error,
        created_at=row.created_at,
    )


class JobRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def enqueue(
        self,
        *,
        kind: str,
        dedupe_key: str,
        payload: Mapping[str, Any],
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> int | None:
        """Queue a job unless one with the same `dedupe_key` exists (in any status). Its id if queued."""
        now = self._clock.now()
        table = table_of(JobRow)
        result = insert_ignoring_conflicts(
            self._session,
            table,
            [
                {
                    "kind": kind,
                    "dedupe_key": dedupe_key,
                    "payload": dict(payload),
                    "status": JobStatus.QUEUED.value,
                    "attempts": 0,
                    "max_attempts": max_attempts,
                    "lease_until": None,
                    "claimed_by": None,
                    "last_error": None,
                    "created_at": now,
                    "updated_at": now,
                    "available_at": None,
                }
            ],
            returning=table.c.id,
        )
        new_id = result.scalar_one_or_none()
        return int(new_id) if new_id is not None else None

    def get_by_key(self, dedupe_key: str, *, lock: bool = False) -> Job | None:
        stmt = sa.select(JobRow).where(JobRow.dedupe_key == dedupe_key)
        if lock and self._session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = self._session.scalars(stmt).one_or_none()
        return _job(row) if row else None

    def get(self, job_id: int, *, lock: bool = False) -> Job | None:
        """`lock`: hold the row until commit (PostgreSQL), to serialise with whoever completes the job."""
        row = self._session.get(JobRow, job_id, with_for_update=lock and self._session.get_bind().dialect.name == "postgresql")
        return _job(row) if row else None

    def list(self, *, status: JobStatus | None = None, kind: str | None = None) -> list[Job]:
        stmt = sa.select(JobRow).order_by(JobRow.id)
        if status is not None:
            stmt = stmt.where(JobRow.status == status.value)
        if kind is not None:
            stmt = stmt.where(JobRow.kind == kind)
        return [_job(row) for row in self._session.scalars(stmt)]

    def claim(self, *, worker: str, lease: timedelta = DEFAULT_LEASE, kinds: Sequence[str] | None = None) -> Job | None:
        """Claim the oldest claimable job for `worker` until now + `lease`; None when there is none.
        The claim holds only once the unit of work commits, so commit right away."""
        now = self._clock.now()
        self._fail_exhausted(now)
        expired = sa.and_(JobRow.status == JobStatus.RUNNING.value, JobRow.lease_until < now)
        due = sa.or_(JobRow.available_at.is_(None), JobRow.available_at <= now)
        stmt = (
            sa.select(JobRow)
            .where(sa.or_(JobRow.status == JobStatus.QUEUED.value, expired), JobRow.attempts < JobRow.max_attempts,
                   due)
            .order_by(JobRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # rendered on PostgreSQL; SQLite's write lock is already held
        )
        if kinds:
            stmt = stmt.where(JobRow.kind.in_(list(kinds)))
        row = self._session.scalars(stmt).one_or_none()
        if row is None:
            return None
        row.status = JobStatus.RUNNING.value
        row.claimed_by = worker
        row.lease_until = now + lease
        row.attempts += 1
        row.updated_at = now
        self._session.flush()
        return _job(row)

    def make_due(self, kind: str) -> int:
        """Queued jobs of `kind` waiting out a backoff become claimable now (their cause went away: Slack
        is back). Returns how many."""
        now = self._clock.now()
        # An UPDATE runs through a cursor: its result has a rowcount, which Session.execute's type omits.
        result = cast("sa.CursorResult[Any]", self._session.execute(
            sa.update(JobRow)
            .where(JobRow.kind == kind, JobRow.status == JobStatus.QUEUED.value, JobRow.available_at > now)
            .values(available_at=now, updated_at=now)
        ))
        return int(result.rowcount or 0)

    def renew(self, job_id: int, *, worker: str, lease: timedelta = DEFAULT_LEASE) -> Job:
        """Extend the lease of a job this worker holds (long jobs call this before the lease runs out)."""
        row = self._held(job_id, worker)
        now = self._clock.now()
        row.lease_until = now + lease
        row.updated_at = now
        self._session.flush()
        return _job(row)

    def complete(self, job_id: int, *, worker: str) -> Job:
        row = self._held(job_id, worker)
        row.status = JobStatus.DONE.value
        row.lease_until = None
        row.updated_at = self._clock.now()
        self._session.flush()
        return _job(row)

    def fail(self, job_id: int, *, worker: str, error: str, retry_in: timedelta | None = None) -> Job:
        """Record a failed attempt: queued again while attempts remain (claimable after `retry_in`),
        `failed` after the last one."""
        row = self._held(job_id, worker)
        now = self._clock.now()
        row.status = (JobStatus.QUEUED if row.attempts < row.max_attempts else JobStatus.FAILED).value
        row.last_error = error[:2000]
        row.lease_until = None
        row.claimed_by = None
        row.available_at = now + retry_in if retry_in is not None else None
        row.updated_at = now
        self._session.flush()
        return _job(row)

    def _held(self, job_id: int, worker: str) -> JobRow:
        row = self._session.get(JobRow, job_id, with_for_update=True)
        if row is None:
            raise LeaseLost(f"job {job_id} does not exist")
        if row.status != JobStatus.RUNNING.value or row.claimed_by != worker:
            raise LeaseLost(
                f"job {job_id} is no longer held by {worker} (status {row.status}, holder {row.claimed_by})"
            )
        # A lease past its time that no one has claimed since is still this worker's: a claim would have
        # changed the holder, and the row lock above keeps one from slipping in now. Refusing it anyway
        # threw away finished work whenever a heartbeat ran late on a busy machine.
        return row

    def _fail_exhausted(self, now: Any) -> None:
        # A job whose worker died on its last attempt would otherwise sit in `running` forever.
        self._session.execute(
            sa.update(JobRow)
            .where(
                JobRow.status == JobStatus.RUNNING.value,
                JobRow.lease_until < now,
                JobRow.attempts >= JobRow.max_attempts,
            )
            .values(status=JobStatus.FAILED.value, last_error="lease expired on the last attempt", updated_at=now)
        )
