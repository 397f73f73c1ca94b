"""What the store hands back besides `bot.domain` types: frozen records, never ORM rows, so callers cannot
lazy-load, mutate, or outlive a session by accident."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import Finding


class PostmortemStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class InboundEvent:
    """A raw webhook as stored. `body` is the exact bytes that were signed."""

    id: int
    source: str
    delivery_id: str | None
    event_id: str
    event_type: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    processed_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class DiagnosisRun:
    id: int
    dedupe_key: str
    incident_id: str | None
    playbook: str | None
    target: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
    findings: tuple[Finding, ...]
    rollback_candidates: tuple[dict[str, Any], ...] = ()
    image: dict[str, Any] | None = None  # bot.postmortem.evidence.ImageSummary JSON
    dockerfile_fix: dict[str, Any] | None = None  # bot.postmortem.evidence.DockerfileFix JSON
    cause: dict[str, Any] | None = None  # bot.domain.ProbableCause JSON; None for runs stored before it existed
    rollback: dict[str, Any] | None = None  # bot.domain.RollbackDecision JSON


@dataclass(frozen=True)
class PostmortemVersion:
    incident_id: str
    version: int
    body_markdown: str
    content_hash: str
    status: PostmortemStatus
    author: str | None
    created_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    lease_until: datetime | None
    claimed_by: str | None
    last_error: str | None
    created_at: datetime
    available_at: datetime | None = None
