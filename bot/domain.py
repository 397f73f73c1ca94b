"""Frozen domain types shared by every stage. They import no SDK.

A finding is neutral data: Slack blocks, terminal text, JSON and the postmortem are all renderings of it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Severity(enum.StrEnum):
    """Ordered from most to least urgent; `rank` sorts findings."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = list(Severity)


@dataclass(frozen=True)
class Finding:
    """One thing a check found.

    `rule` is the stable id (for example `node-disk-high`): the same word in code, JSON, docs and Slack.
    `evidence` holds JSON-able facts (numbers, object names, layer digests) so every claim can be traced.
    """

    rule: str
    severity: Severity
    title: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str | None = None
    check: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "title": self.title,
            "evidence": dict(self.evidence),
            "remediation": self.remediation,
            "check": self.check,
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by rule and title so the order is stable across runs."""
    return sorted(findings, key=lambda f: (f.severity.rank, f.rule, f.title))


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the incident timeline, rendered as `[2024-05-14 03:02:11] text`.

    `key` is stable for the same fact however often it is gathered: storage deduplicates on it.
    """

    at: datetime
    source: str
    text: str
    key: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "source": self.source, "text": self.text, "key": self.key}


@dataclass(frozen=True)
class RollbackCandidate:
    """A Deployment revision one could roll back to; `patch` is the JSON patch `kubectl rollout undo` sends."""

    revision: int
    image: str
    size_bytes: int | None
    healthy: bool
    live_from: datetime | None = None
    live_until: datetime | None = None
    recommended: bool = False
    undo_command: str = ""
    patch: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "image": self.image,
            "size_bytes": self.size_bytes,
            "healthy": self.healthy,
            "live_from": self.live_from.isoformat() if self.live_from else None,
            "live_until": self.live_until.isoformat() if self.live_until else None,
            "recommended": self.recommended,
            "undo_command": self.undo_command,
            "patch": [dict(p) for p in self.patch],
        }


@dataclass(frozen=True)
class RollbackDecision:
    """Whether rolling back is advised, decided once from the evidence (issue 9). Every sink (text, JSON,
    Slack, the postmortem) reads this; none re-derives "recommended" from a finding's evidence."""

    recommended: bool
    revision: int | None
    reason: str  # one sentence an on-call reads: why, or why not
    implicated_by: tuple[str, ...] = ()  # the rule ids whose evidence implicated the current revision

    def to_json(self) -> dict[str, Any]:
        return {"recommended": self.recommended, "revision": self.revision, "reason": self.reason,
                "implicated_by": list(self.implicated_by)}


NO_ROLLBACK_DECISION = RollbackDecision(False, None, "no rollout history was read")


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class CauseLink:
    """One link of the causal chain. `role` is trigger | mechanism | symptom | amplifier; `rules` are the
    rule ids of the findings that are its evidence."""

    role: str
    text: str
    rules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "text": self.text, "rules": list(self.rules)}


@dataclass(frozen=True)
class ProbableCause:
    """The one probable cause on top of a diagnosis (issue 9): the chain trigger -> mechanism -> symptoms,
    the findings that support it, what was ruled out, and how sure. When the evidence does not single out
    one cause, `chain` is empty and `candidates` lists the possibilities."""

    summary: str  # the chain in one line: "revision 5 (image 4.2 GB, 19.5x revision 4) -> ... -> registry 503"
    chain: tuple[CauseLink, ...]
    supporting: tuple[str, ...]  # rule ids
    ruled_out: tuple[str, ...]  # sentences: "the service's revision: live 4 days, ..."
    confidence: Confidence
    candidates: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "chain": [link.to_json() for link in self.chain],
            "supporting": list(self.supporting),
            "ruled_out": list(self.ruled_out),
            "confidence": self.confidence.value,
            "candidates": list(self.candidates),
        }


@dataclass(frozen=True)
class Target:
    """The workload a diagnosis is about."""

    context: str | None
    namespace: str
    kind: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return {"context": self.context, "namespace": self.namespace, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class Incident:
    """An incident as Coroner knows it, whatever its source (PagerDuty, a /diagnose command)."""

    id: str  # Coroner's own id
    source: str  # "pagerduty" | "slack" | "cli"
    external_id: str | None  # e.g. PagerDuty's incident id "PGR0VU2"
    title: str
    service: str | None
    status: str  # "triggered" | "acknowledged" | "resolved"
    urgency: str | None
    created_at: datetime
    resolved_at: datetime | None = None
    number: int | None = None
    html_url: str | None = None
    pagerduty_service_id: str | None = None
    assignee: str | None = None
    priority: str | None = None
    slack_channel: str | None = None  # where its live root message is, once posted
    slack_ts: str | None = None
    probable_cause: str | None = None  # one line from the diagnosis, shown on the root message
    reopen_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "external_id": self.external_id,
            "title": self.title,
            "service": self.service,
            "status": self.status,
            "urgency": self.urgency,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "number": self.number,
            "html_url": self.html_url,
        }
