"""Repositories: add and get, inside a unit of work's session. They never commit (the unit of work does)
and never hand out ORM rows: callers get `bot.domain` types or `bot.store.records`.

Idempotence is done by the database, not by check-then-insert: `INSERT ... ON CONFLICT DO NOTHING` on the
unique keys, in the dialect's own syntax, so two replicas (or a retry racing the original) cannot both win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.domain import Finding, Incident, Severity, TimelineEntry
from bot.ports import Clock
from bot.redact import redact, redact_json
from bot.store.db import StoreError
from bot.store.models import (
    AuditLogRow,
    DiagnosisRunRow,
    FindingRow,
    InboundEventRow,
    IncidentRow,
    PostmortemRow,
    PostmortemVersionRow,
    TimelineEntryRow,
    table_of,
)
from bot.store.records import AuditRecord, DiagnosisRun, InboundEvent, PostmortemStatus, PostmortemVersion


class NotFound(StoreError):
    """The object asked for does not exist."""


def insert_ignoring_conflicts(
    session: Session,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: sa.ColumnElement[Any] | None = None,
    returning_columns: Sequence[sa.ColumnElement[Any]] = (),
) -> sa.Result[Any]:
    """`INSERT ... ON CONFLICT DO NOTHING` for SQLite and PostgreSQL: rows that collide with any unique
    constraint are skipped silently. With `returning`, the result holds one row per row really added."""
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - make_engine refuses other backends
        raise StoreError(f"unsupported dialect {dialect}")
    # Rows go as execute parameters, not `.values(...)` literals: the statement's structure is then the same
    # every time and SQLAlchemy compiles it once (compiling it per call was most of the intake's CPU).
    stmt = stmt.on_conflict_do_nothing()
    if returning is not None or returning_columns:
        stmt = stmt.returning(*([returning] if returning is not None else []), *returning_columns)
    params = [dict(row) for row in rows]
    return session.execute(stmt, params[0] if len(params) == 1 else params)


def _locks_rows(session: Session) -> bool:
    """Whether `SELECT ... FOR UPDATE` means anything here: row locks serialise concurrent writers on
    PostgreSQL; SQLite is single-writer already (and has no such clause)."""
    return session.get_bind().dialect.name == "postgresql"


def content_hash(text: str) -> str:
    """sha256 hex of the UTF-8 text: the version key of a stored postmortem draft."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- incidents -----------------------------------------------------------------------------------------


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id,
        source=row.source,
        external_id=row.external_id,
        title=row.title,
        service=row.service,
        status=row.status,
        urgency=row.urgency,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        number=row.number,
        html_url=row.html_url,
        pagerduty_service_id=row.pagerduty_service_id,
        assignee=row.assignee,
        priority=row.priority,
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        probable_cause=row.probable_cause,
        reopen_count=row.reopen_count or 0,
    )


class IncidentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, incident_id: str) -> Incident | None:
        row = self._session.get(IncidentRow, incident_id)
        return _incident(row) if row else None

    def add_if_absent(self, incident: Incident) -> bool:
        """Insert unless an incident with the same id (or source + external id) exists. True if inserted."""
        values = {
            "id": incident.id,
            "source": incident.source,
            "external_id": incident.external_id,
            "title": incident.title,
            "service": incident.service,
            "status": incident.status,
            "urgency": incident.urgency,
            "number": incident.number,
            "html_url": incident.html_url,
            "pagerduty_service_id": incident.pagerduty_service_id,
            "assignee": incident.assignee,
            "priority": incident.priority,
            "reopen_count": incident.reopen_count,
            "created_at": incident.created_at,
            "resolved_at": incident.resolved_at,
            "status_at": incident.resolved_at or incident.created_at,
        }
        table = table_of(IncidentRow)
        result = insert_ignoring_conflicts(self._session, table, [values], returning=table.c.id)
        return result.scalar_one_or_none() is not None

    def update_details(
        self,
        incident_id: str,
        *,
        title: str | None = None,
        service: str | None = None,
        urgency: str | None = None,
        html_url: str | None = None,
        number: int | None = None,
        pagerduty_service_id: str | None = None,
        assignee: str | None = None,
        priority: str | None = None,
    ) -> None:
        """Refresh descriptive fields from a newer event; `None` leaves a field as it is."""
        row = self._row(incident_id)
        for name, value in (
            ("title", title),
            ("service", service),
            ("urgency", urgency),
            ("html_url", html_url),
            ("number", number),
            ("pagerduty_service_id", pagerduty_service_id),
            ("assignee", assignee),
            ("priority", priority),
        ):
            if value is not None:
                setattr(row, name, value)

    def set_status(self, incident_id: str, *, status: str, at: datetime) -> bool:
        """Move the incident to `status` as of `at`, unless a later status is already recorded (events
        re-processed late must not reopen a resolved incident). True if the status changed."""
        row = self._row(incident_id)
        if at < row.status_at:
            return False
        changed = row.status != status
        row.status = status
        row.status_at = at
        if status == "resolved":
            row.resolved_at = row.resolved_at or at
        else:
            row.resolved_at = None
        return changed

    def count_reopen(self, incident_id: str) -> int:
        """Count one more reopening; returns the new count (the generation of the next diagnosis)."""
        row = self._row(incident_id)
        row.reopen_count = (row.reopen_count or 0) + 1
        return row.reopen_count

    def set_slack_root(self, incident_id: str, *, channel: str, ts: str) -> None:
        row = self._row(incident_id)
        row.slack_channel, row.slack_ts = channel, ts

    def set_probable_cause(self, incident_id: str, cause: str | None) -> None:
        self._row(incident_id).probable_cause = redact(cause) if cause else cause

    def open_for_service(self, service: str, *, pagerduty_service_id: str | None = None) -> Incident | None:
        """The most recent incident of `service` (by name, or by PagerDuty service id) that is not resolved:
        where a /diagnose answer also goes."""
        same = IncidentRow.service == service
        if pagerduty_service_id:
            same = sa.or_(same, IncidentRow.pagerduty_service_id == pagerduty_service_id)
        row = self._session.scalars(
            sa.select(IncidentRow)
            .where(same, IncidentRow.status != "resolved")
            .order_by(IncidentRow.created_at.desc())
            .limit(1)
        ).first()
        return _incident(row) if row else None

    def list(self, *, status: str | None = None, limit: int = 50) -> list[Incident]:
        stmt = sa.select(IncidentRow).order_by(IncidentRow.created_at.desc(), IncidentRow.id).limit(limit)
        if status is not None:
            stmt = stmt.where(IncidentRow.status == status)
        return [_incident(row) for row in self._session.scalars(stmt)]

    def _row(self, incident_id: str) -> IncidentRow:
        row = self._session.get(IncidentRow, incident_id, with_for_update=_locks_rows(self._session))
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        return row


# --- raw inbound events --------------------------------------------------------------------------------


def _inbound(row: InboundEventRow) -> InboundEvent:
    return InboundEvent(
        id=row.id,
        source=row.source,
        delivery_id=row.delivery_id,
        event_id=row.event_id,
        event_type=row.event_type,
        headers=dict(row.headers),
        body=bytes(row.body),
        received_at=row.received_at,
        processed_at=row.processed_at,
        attempts=row.attempts,
        last_error=row.last_error,
    )


@dataclass(frozen=True)
class NewInboundEvent:
    """A raw event to store (see `InboundEventRepository.add_many`)."""

    source: str
    delivery_id: str | None
    event_id: str
    event_type: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime


class InboundEventRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add_many(self, events: Sequence[NewInboundEvent]) -> list[int | None]:
        """Store several raw events in one INSERT; for each, its new id, or None when it is a duplicate (of a
        stored event, or of an earlier one in `events`: same delivery id, or same event id)."""
        table = table_of(InboundEventRow)
        rows = [{"source": e.source, "delivery_id": e.delivery_id, "event_id": e.event_id,
                 "event_type": e.event_type, "headers": dict(e.headers), "body": e.body,
                 "received_at": e.received_at, "processed_at": None, "attempts": 0, "last_error": None}
                for e in events]
        inserted = insert_ignoring_conflicts(
            self._session, table, rows, returning_columns=(table.c.id, table.c.delivery_id, table.c.event_id))
        ids = {(row.delivery_id, row.event_id): int(row.id) for row in inserted}
        out: list[int | None] = []
        for event in events:
            # Each stored row answers for the first of the events it came from; a repeat is a duplicate.
            out.append(ids.pop((event.delivery_id, event.event_id), None))
        return out

    def add(
        self,
        *,
        source: str,
        delivery_id: str | None,
        event_id: str,
        event_type: str,
        headers: Mapping[str, str],
        body: bytes,
        received_at: datetime,
    ) -> int | None:
        """Store a raw event once. Returns its id, or None when it is a duplicate (same delivery id, or the
        same event id delivered under another delivery id)."""
        values = {
            "source": source,
            "delivery_id": delivery_id,
            "event_id": event_id,
            "event_type": event_type,
            "headers": dict(headers),
            "body": body,
            "received_at": received_at,
            "processed_at": None,
            "attempts": 0,
            "last_error": None,
        }
        result = insert_ignoring_conflicts(
            self._session,
            table_of(InboundEventRow),
            [values],
            returning=table_of(InboundEventRow).c.id,
        )
        new_id = result.scalar_one_or_none()
        return int(new_id) if new_id is not None else None

    def get(self, event_id: int) -> InboundEvent | None:
        row = self._session.get(InboundEventRow, event_id)
        return _inbound(row) if row else None

    def count(self, *, source: str | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(InboundEventRow)
        if source is not None:
            stmt = stmt.where(InboundEventRow.source == source)
        return int(self._session.scalar(stmt) or 0)

    def pending(self, *, limit: int = 100, max_attempts: int | None = None) -> list[InboundEvent]:
        """Unprocessed events, oldest first (the order they were received, which PagerDuty keeps per
        incident); with `max_attempts`, only those tried fewer times than that."""
        stmt = (
            sa.select(InboundEventRow)
            .where(InboundEventRow.processed_at.is_(None))
            .order_by(InboundEventRow.id)
            .limit(limit)
        )
        if max_attempts is not None:
            stmt = stmt.where(InboundEventRow.attempts < max_attempts)
        return [_inbound(row) for row in self._session.scalars(stmt)]

    def lock_pending(self, event_id: int) -> InboundEvent | None:
        """Take the event for processing if it is still pending. On PostgreSQL the row stays locked until
        commit (`SKIP LOCKED`: another replica busy with it makes this return None)."""
        stmt = sa.select(InboundEventRow).where(InboundEventRow.id == event_id, InboundEventRow.processed_at.is_(None))
        if _locks_rows(self._session):
            stmt = stmt.with_for_update(skip_locked=True)
        row = self._session.scalars(stmt).one_or_none()
        return _inbound(row) if row else None

    def mark_processed(self, event_id: int, *, at: datetime) -> None:
        self._session.execute(
            sa.update(InboundEventRow)
            .where(InboundEventRow.id == event_id)
            .values(processed_at=at, attempts=InboundEventRow.attempts + 1, last_error=None)
        )

    def mark_failed(self, event_id: int, *, error: str) -> None:
        self._session.execute(
            sa.update(InboundEventRow)
            .where(InboundEventRow.id == event_id)
            .values(attempts=InboundEventRow.attempts + 1, last_error=error[:2000])
        )


# --- timeline ------------------------------------------------------------------------------------------


class TimelineRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add_entries(self, *, incident_id: str, entries: Iterable[TimelineEntry]) -> int:
        """Add entries, skipping any whose key the incident already has. Returns how many were new.
        Credentials in the text (and in a key made from it) are redacted before they are stored."""
        unique: dict[str, TimelineEntry] = {}
        for entry in entries:
            unique.setdefault(redact(entry.key), entry)
        if not unique:
            return 0
        rows = [
            {"incident_id": incident_id, "key": key, "at": e.at, "source": e.source, "text": redact(e.text)}
            for key, e in unique.items()
        ]
        table = table_of(TimelineEntryRow)
        # Count what RETURNING gives back: rowcount of a multi-row insert is not reliable across drivers.
        result = insert_ignoring_conflicts(self._session, table, rows, returning=table.c.id)
        return len(result.all())

    def list(self, incident_id: str) -> list[TimelineEntry]:
        """Ordered by time; ties keep insertion order."""
        stmt = (
            sa.select(TimelineEntryRow)
            .where(TimelineEntryRow.incident_id == incident_id)
            .order_by(TimelineEntryRow.at, TimelineEntryRow.id)
        )
        return [
            TimelineEntry(at=row.at, source=row.source, text=row.text, key=row.key)
            for row in self._session.scalars(stmt)
        ]


# --- diagnosis runs and findings -----------------------------------------------------------------------


class DiagnosisRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        *,
        dedupe_key: str,
        incident_id: str | None,
        findings: Sequence[Finding],
        started_at: datetime,
        finished_at: datetime | None = None,
        playbook: str | None = None,
        target: Mapping[str, Any] | None = None,
        rollback_candidates: Sequence[Mapping[str, Any]] | None = None,
        image: Mapping[str, Any] | None = None,
        dockerfile_fix: Mapping[str, Any] | None = None,
        cause: Mapping[str, Any] | None = None,
        rollback: Mapping[str, Any] | None = None,
    ) -> tuple[DiagnosisRun, bool]:
        """Store a run and its findings once per `dedupe_key`. Returns the stored run and whether it is new;
        a repeat returns the run recorded first, untouched."""
        run_table = table_of(DiagnosisRunRow)
        result = insert_ignoring_conflicts(
            self._session,
            run_table,
            [
                {
                    "dedupe_key": dedupe_key,
                    "incident_id": incident_id,
                    "playbook": playbook,
                    "target": dict(target or {}),
                    "started_at": started_at,
                    "finished_at": finished_at,
                    # the evidence documents carry instructions and diffs: credentials never reach the database
                    "rollback_candidates": redact_json([dict(c) for c in rollback_candidates or []]),
                    "image": redact_json(dict(image)) if image is not None else None,
                    "dockerfile_fix": redact_json(dict(dockerfile_fix)) if dockerfile_fix is not None else None,
                    "cause": redact_json(dict(cause)) if cause is not None else None,
                    "rollback": redact_json(dict(rollback)) if rollback is not None else None,
                }
            ],
            returning=run_table.c.id,
        )
        run_id = result.scalar_one_or_none()
        created = run_id is not None
        if created:
            self._session.add_all(
                FindingRow(
                    run_id=run_id,
                    position=position,
                    rule=f.rule,
                    severity=f.severity.value,
                    title=redact(f.title),
                    evidence=redact_json(dict(f.evidence)),
                    remediation=redact(f.remediation) if f.remediation else f.remediation,
                    check=f.check,
                )
                for position, f in enumerate(findings)
            )
            self._session.flush()
        run = self.get(dedupe_key)
        assert run is not None  # inserted above, or present since the conflict
        return run, created

    def get(self, dedupe_key: str) -> DiagnosisRun | None:
        row = self._session.scalars(
            sa.select(DiagnosisRunRow).where(DiagnosisRunRow.dedupe_key == dedupe_key)
        ).one_or_none()
        return self._run(row) if row else None

    def get_by_id(self, run_id: int) -> DiagnosisRun | None:
        row = self._session.get(DiagnosisRunRow, run_id)
        return self._run(row) if row else None

    def list_for_incident(self, incident_id: str) -> list[DiagnosisRun]:
        rows = self._session.scalars(
            sa.select(DiagnosisRunRow)
            .where(DiagnosisRunRow.incident_id == incident_id)
            .order_by(DiagnosisRunRow.started_at, DiagnosisRunRow.id)
        )
        return [self._run(row) for row in rows]

    def _run(self, row: DiagnosisRunRow) -> DiagnosisRun:
        finding_rows = self._session.scalars(
            sa.select(FindingRow).where(FindingRow.run_id == row.id).order_by(FindingRow.position)
        )
        findings = tuple(
            Finding(
                rule=f.rule,
                severity=Severity(f.severity),
                title=f.title,
                evidence=dict(f.evidence),
                remediation=f.remediation,
                check=f.check,
            )
            for f in finding_rows
        )
        return DiagnosisRun(
            id=row.id,
            dedupe_key=row.dedupe_key,
            incident_id=row.incident_id,
            playbook=row.playbook,
            target=dict(row.target),
            started_at=row.started_at,
            finished_at=row.finished_at,
            findings=findings,
            rollback_candidates=tuple(dict(c) for c in row.rollback_candidates or ()),
            image=dict(row.image) if row.image is not None else None,
            dockerfile_fix=dict(row.dockerfile_fix) if row.dockerfile_fix is not None else None,
            cause=dict(row.cause) if row.cause is not None else None,
            rollback=dict(row.rollback) if row.rollback is not None else None,
        )


# --- postmortems ---------------------------------------------------------------------------------------


class PostmortemRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def save_version(
        self,
        *,
        incident_id: str,
        body_markdown: str,
        author: str | None = None,
        status: PostmortemStatus = PostmortemStatus.DRAFT,
    ) -> tuple[PostmortemVersion, bool]:
        """Append a version unless the latest one has the same content (sha256). Returns the latest version
        and whether it was added. Versions are numbered 1, 2, 3… per incident. Credentials in the body are
        redacted before it is hashed and stored (the renderer redacts already; this is the last gate)."""
        body_markdown = redact(body_markdown)
        now = self._clock.now()
        insert_ignoring_conflicts(
            self._session,
            table_of(PostmortemRow),
            [{"incident_id": incident_id, "created_at": now}],
        )
        stmt = sa.select(PostmortemRow).where(PostmortemRow.incident_id == incident_id)
        if _locks_rows(self._session):
            # Two savers of the same postmortem queue here, so they cannot both claim version N+1.
            stmt = stmt.with_for_update()
        postmortem = self._session.scalars(stmt).one()
        latest = self._latest_row(postmortem.id)
        digest = content_hash(body_markdown)
        if latest is not None and latest.content_hash == digest:
            return self._version(incident_id, latest), False
        row = PostmortemVersionRow(
            postmortem_id=postmortem.id,
            version=(latest.version + 1) if latest else 1,
            body_markdown=body_markdown,
            content_hash=digest,
            status=status.value,
            author=author,
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return self._version(incident_id, row), True

    def latest(self, incident_id: str) -> PostmortemVersion | None:
        postmortem_id = self._postmortem_id(incident_id)
        if postmortem_id is None:
            return None
        row = self._latest_row(postmortem_id)
        return self._version(incident_id, row) if row else None

    def versions(self, incident_id: str) -> list[PostmortemVersion]:
        postmortem_id = self._postmortem_id(incident_id)
        if postmortem_id is None:
            return []
        rows = self._session.scalars(
            sa.select(PostmortemVersionRow)
            .where(PostmortemVersionRow.postmortem_id == postmortem_id)
            .order_by(PostmortemVersionRow.version)
        )
        return [self._version(incident_id, row) for row in rows]

    def set_status(self, *, incident_id: str, version: int, status: PostmortemStatus) -> PostmortemVersion:
        postmortem_id = self._postmortem_id(incident_id)
        row = None
        if postmortem_id is not None:
            row = self._session.scalars(
                sa.select(PostmortemVersionRow).where(
                    PostmortemVersionRow.postmortem_id == postmortem_id, PostmortemVersionRow.version == version
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"no postmortem version {version} for incident {incident_id}")
        row.status = status.value
        self._session.flush()
        return self._version(incident_id, row)

    def _postmortem_id(self, incident_id: str) -> int | None:
        return self._session.scalar(sa.select(PostmortemRow.id).where(PostmortemRow.incident_id == incident_id))

    def _latest_row(self, postmortem_id: int) -> PostmortemVersionRow | None:
        return self._session.scalars(
            sa.select(PostmortemVersionRow)
            .where(PostmortemVersionRow.postmortem_id == postmortem_id)
            .order_by(PostmortemVersionRow.version.desc())
            .limit(1)
        ).first()

    @staticmethod
    def _version(incident_id: str, row: PostmortemVersionRow) -> PostmortemVersion:
        return PostmortemVersion(
            incident_id=incident_id,
            version=row.version,
            body_markdown=row.body_markdown,
            content_hash=row.content_hash,
            status=PostmortemStatus(row.status),
            author=row.author,
            created_at=row.created_at,
        )


# --- audit log -----------------------------------------------------------------------------------------


class AuditRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def record(
        self, *, actor: str, action: str, target: str | None = None, details: Mapping[str, Any] | None = None
    ) -> AuditRecord:
        row = AuditLogRow(at=self._clock.now(), actor=actor, action=action, target=target, details=dict(details or {}))
        self._session.add(row)
        self._session.flush()
        return AuditRecord(at=row.at, actor=row.actor, action=row.action, target=row.target, details=dict(row.details))

    def list(self, *, target: str | None = None, limit: int = 100) -> list[AuditRecord]:
        stmt = sa.select(AuditLogRow).order_by(AuditLogRow.at, AuditLogRow.id).limit(limit)
        if target is not None:
            stmt = stmt.where(AuditLogRow.target == target)
        return [
            AuditRecord(at=r.at, actor=r.actor, action=r.action, target=r.target, details=dict(r.details))
            for r in self._session.scalars(stmt)
        ]


__all__ = [
    "AuditRepository",
    "DiagnosisRepository",
    "InboundEventRepository",
    "IncidentRepository",
    "NotFound",
    "PostmortemRepository",
    "TimelineRepository",
    "content_hash",
    "insert_ignoring_conflicts",
]
