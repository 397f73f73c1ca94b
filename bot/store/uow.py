"""The unit of work and the `Store` that makes them.

    store = Store.from_url("sqlite:///coroner.db")
    with store.unit_of_work() as uow:
        uow.timeline.add_entries(incident_id=incident.id, entries=entries)
        uow.commit()

Nothing is written unless `commit()` is called; leaving the block without it rolls back. A database that
cannot be reached surfaces as `StoreUnavailable`, whichever statement hit it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import SystemClock
from bot.ports import Clock
from bot.store.autopsies import ImageAutopsyRepository
from bot.store.db import UNAVAILABLE_ERRORS, make_engine, ping, unavailable
from bot.store.diagnosis_requests import DiagnosisRequestRepository
from bot.store.jobs import JobRepository
from bot.store.outbox import SlackPostRepository
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
    """The database behind Coroner: makes the units of work every read and write goes through. Build it
    once per process (it owns a connection pool)."""

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
