"""The tables, as typed SQLAlchemy 2.x mappings. Nothing outside `bot.store` sees these rows:
repositories turn them into `bot.domain` types (or the small records of `bot.store.records`).

Every change here needs an Alembic revision in `migrations/versions/`; `coroner db check` (and the
test suite) fail when the models and the migrations drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names: Alembic can then drop and alter them on every backend (SQLite's
# batch mode needs names), and a migration written on SQLite means the same thing on PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite keeps no offset, so values are normalised to UTC on the way
    in and tagged as UTC on the way out; PostgreSQL stores `timestamptz`. Naive input is refused, because
    guessing its zone is how timelines end up an hour off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}  # noqa: RUF012 - SQLAlchemy's setting


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, typed (for the Core `INSERT ... ON CONFLICT` statements)."""
    return cast(Table, model.__table__)


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(32))
    number: Mapped[int | None] = mapped_column(Integer)
    html_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # When the current status was set, by the source's clock: an older event processed late (a
    # re-processed raw event) must not move the status backwards.
    status_at: Mapped[datetime]
    pagerduty_service_id: Mapped[str | None] = mapped_column(String(128))
    assignee: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str | None] = mapped_column(String(64))
    # The live root message in Slack: every later event edits it and threads under it.
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    probable_cause: Mapped[str | None] = mapped_column(Text)
    # How many times PagerDuty reopened it: each reopening is a new diagnosis and a new resolution.
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class InboundEventRow(Base):
    """A webhook exactly as received. The source of truth: incidents and timelines are derived from it,
    and `processed_at IS NULL` marks what still has to be (re)processed."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id"),
        UniqueConstraint("source", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str | None] = mapped_column(String(128))  # PagerDuty X-Webhook-Id
    event_id: Mapped[str] = mapped_column(String(128))  # PagerDuty event.id
    event_type: Mapped[str] = mapped_column(String(128))
    headers: Mapped[dict[str, Any]]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class TimelineEntryRow(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (UniqueConstraint("incident_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class DiagnosisRunRow(Base):
    __tablename__ = "diagnosis_runs"
    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(255))
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    playbook: Mapped[str | None] = mapped_column(String(255))
    target: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The rest of the evidence the postmortem is drafted from, as it was at alert time: the rollback
    # candidates, the image autopsy summary and the Dockerfile fix (JSON of bot.postmortem.evidence).
    rollback_candidates: Mapped[list[Any] | None] = mapped_column(JSON)
    image: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dockerfile_fix: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cause: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # ProbableCause.to_json()
    rollback: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # RollbackDecision.to_json()


class ImageAutopsyRow(Base):
    """An image's autopsy, cached by manifest digest: replicas of `coroner serve` share it, so the admission
    gate decides from the cache within its deadline and a reference image is read once."""

    __tablename__ = "image_autopsies"

    digest: Mapped[str] = mapped_column(String(128), primary_key=True)  # sha256:... of the manifest
    ref: Mapped[str] = mapped_column(Text)  # the reference it was first read as
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    report: Mapped[dict[str, Any]]  # ImageReport.to_json()
    created_at: Mapped[datetime]


class FindingRow(Base):
    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("diagnosis_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    remediation: Mapped[str | None] = mapped_column(Text)
    check: Mapped[str | None] = mapped_column(String(128))


class PostmortemRow(Base):
    __tablename__ = "postmortems"
    __table_args__ = (UniqueConstraint("incident_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class PostmortemVersionRow(Base):
    __tablename__ = "postmortem_versions"
    __table_args__ = (UniqueConstraint("postmortem_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body_markdown: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of body_markdown (UTF-8)
    status: Mapped[str] = mapped_column(String(32))  # draft | in_review | changes_requested | approved
    author: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class AuditLogRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]]


class JobRow(Base):
    """Durable work. Claimed under a lease: a worker that dies leaves a job that becomes claimable again
    when `lease_until` passes, so nothing is lost and nothing runs twice at the same time."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Not claimable before this time: a retry waits out its backoff (or Slack's Retry-After).
    available_at: Mapped[datetime | None]


class SlackPostRow(Base):
    """One message Coroner posts for an incident, keyed by (incident, kind, version) so that a job run
    twice (a retry, a lost lease) posts once. `ts` is null while a worker holds the reservation."""

    __tablename__ = "slack_posts"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    ts: Mapped[str | None] = mapped_column(String(32))
    reserved_by: Mapped[str | None] = mapped_column(String(255))
    reserved_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]


class DiagnosisRequestRow(Base):
    """An incident waiting on a diagnosis job. Incidents of one service that trigger close together
    share one job (an alert storm is one diagnosis), each with its own row here."""

    __tablename__ = "diagnosis_requests"
    __table_args__ = (UniqueConstraint("incident_id", "job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    service: Mapped[str] = mapped_column(String(255), index=True)
    requested_at: Mapped[datetime]
