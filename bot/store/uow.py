"""The unit of work and the `Store` that makes them.

    store = Store.from_url("sqlite:///coroner.db")
    with store.unit_of_work() as uow:
        uow.timeline.add_entries(incident_id=incident.id, entries=entries)
        uow.commit()

Nothing is written unless `commit()` is called; leaving the block without it rolls back. A database that
cannot be reached surfaces as `StoreUnavailable`, whichever statement hit it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import SystemClock
from bot.domain import Finding, Incident, TimelineEntry
from bot.ports import Clock
from bot.store.autopsies import ImageAutopsyRepository
from bot.store.db import UNAVAILABLE_ERRORS, make_engine, ping, unavailable
from bot.store.diagnosis_requests import DiagnosisRequestRepository
from bot.store.jobs import DEFAULT_LEASE, DEFAULT_MAX_ATTEMPTS, JobRepository
from bot.store.outbox import SlackPostRepository
from bot.store.records import DiagnosisRun, Job, PostmortemStatus, PostmortemVersion
from bot.store.repositories import (
    AuditRepository,
    DiagnosisRepository,
    InboundEventRepository,
    IncidentRepository,
    PostmortemRepository,
    TimelineRepository,
)


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session], engine: Engine, clock: Clock) -> None:
        self._session_factory = session_factory
        self._engine = engine
        self.clock = clock

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.incidents = IncidentRepository(self.session)
        self.events = InboundEventRepository(self.session)
        self.timeline = TimelineRepository(self.session)
        self.diagnoses = DiagnosisRepository(self.session)
        self.postmortems = PostmortemRepository(self.session, self.clock)
        self.audit = AuditRepository(self.session, self.clock)
        self.jobs = JobRepository(self.session, self.clock)
        self.slack_posts = SlackPostRepository(self.session, self.clock)
        self.diagnosis_requests = DiagnosisRequestRepository(self.session)
        self.image_autopsies = ImageAutopsyRepository(self.session, self.clock)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.session.rollback()
        except UNAVAILABLE_ERRORS:
            pass  # the connection is already gone; the error that matters is `exc`
        finally:
            self.session.close()
        if isinstance(exc, UNAVAILABLE_ERRORS):
            raise unavailable(self._engine, exc) from exc

    def commit(self) -> None:
        try:
            self.session.commit()
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(self._engine, exc) from exc


class Store:
    """The database behind Coroner: makes units of work, and offers the one-transaction helpers the demo
    and the CLI use. Build it once per process (it owns a connection pool)."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self._session_factory = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, *, clock: Clock | None = None) -> Store:
        """Lazy: no connection is made until the first use."""
        return cls(make_engine(url), clock=clock)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self._session_factory, self.engine, self.clock)

    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""
        ping(self.engine)

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` with the Alembic migrations (the only way the schema is made)."""
        from bot.store.migrate import upgrade

        upgrade(self.url, revision)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- one-transaction helpers ---------------------------------------------------------------------

    def get_incident(self, incident_id: str) -> Incident | None:
        with self.unit_of_work() as uow:
            return uow.incidents.get(incident_id)

    def list_incidents(self, *, status: str | None = None, limit: int = 50) -> list[Incident]:
        with self.unit_of_work() as uow:
            return uow.incidents.list(status=status, limit=limit)

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        with self.unit_of_work() as uow:
            return uow.timeline.list(incident_id)

    def add_timeline_entries(self, *, incident_id: str, entries: Iterable[TimelineEntry]) -> int:
        """Idempotent: entries whose key the incident already has are skipped. Returns how many were new."""
        with self.unit_of_work() as uow:
            added = uow.timeline.add_entries(incident_id=incident_id, entries=entries)
            uow.commit()
            return added

    def record_diagnosis(
        self,
        *,
        dedupe_key: str,
        incident_id: str | None,
        findings: Sequence[Finding],
        started_at: datetime,
        finished_at: datetime | None = None,
        playbook: str | None = None,
        target: Mapping[str, Any] | None = None,
    ) -> tuple[DiagnosisRun, bool]:
        """Idempotent on `dedupe_key`: a repeat returns the first run and False."""
        with self.unit_of_work() as uow:
            result = uow.diagnoses.record(
                dedupe_key=dedupe_key,
                incident_id=incident_id,
                findings=findings,
                started_at=started_at,
                finished_at=finished_at,
                playbook=playbook,
                target=target,
            )
            uow.commit()
            return result

    def save_postmortem_version(
        self,
        *,
        incident_id: str,
        body_markdown: str,
        author: str | None = None,
        status: PostmortemStatus = PostmortemStatus.DRAFT,
    ) -> tuple[PostmortemVersion, bool]:
        """Idempotent on content: saving the latest content again adds no version (returns it and False)."""
        with self.unit_of_work() as uow:
            result = uow.postmortems.save_version(
                incident_id=incident_id, body_markdown=body_markdown, author=author, status=status
            )
            uow.commit()
            return result

    def audit(
        self, *, actor: str, action: str, target: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        with self.unit_of_work() as uow:
            uow.audit.record(actor=actor, action=action, target=target, details=details)
            uow.commit()

    # --- durable jobs (see bot.store.jobs) -----------------------------------------------------------

    def enqueue_job(
        self, *, kind: str, dedupe_key: str, payload: Mapping[str, Any], max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> bool:
        """Queue a job once per `dedupe_key`; False if it already exists (in any status)."""
        with self.unit_of_work() as uow:
            queued = uow.jobs.enqueue(kind=kind, dedupe_key=dedupe_key, payload=payload, max_attempts=max_attempts)
            uow.commit()
            return queued is not None

    def claim_job(
        self, *, worker: str, lease: timedelta = DEFAULT_LEASE, kinds: Sequence[str] | None = None
    ) -> Job | None:
        """Claim the oldest claimable job, committed before returning (the lease holds from here)."""
        with self.unit_of_work() as uow:
            job = uow.jobs.claim(worker=worker, lease=lease, kinds=kinds)
            uow.commit()
            return job

    def renew_job(self, job_id: int, *, worker: str, lease: timedelta = DEFAULT_LEASE) -> Job:
        with self.unit_of_work() as uow:
            job = uow.jobs.renew(job_id, worker=worker, lease=lease)
            uow.commit()
            return job

    def complete_job(self, job_id: int, *, worker: str) -> Job:
        """Raises `LeaseLost` if the lease passed and the job is no longer this worker's."""
        with self.unit_of_work() as uow:
            job = uow.jobs.complete(job_id, worker=worker)
            uow.commit()
            return job

    def fail_job(self, job_id: int, *, worker: str, error: str, retry_in: timedelta | None = None) -> Job:
        """Re-queued (claimable after `retry_in`) while attempts remain, else `failed`. Raises `LeaseLost`
        like `complete_job`."""
        with self.unit_of_work() as uow:
            job = uow.jobs.fail(job_id, worker=worker, error=error, retry_in=retry_in)
            uow.commit()
            return job
