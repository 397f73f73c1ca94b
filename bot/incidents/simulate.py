"""Deliveries shaped exactly like PagerDuty's, for `coroner demo`, game days and tests.

The body follows the V3 envelope (REFERENCE.md §1.1) and the headers are the ones PagerDuty sends,
signed with `sign_v3`, so a simulated page goes through the same verification and intake code as a real one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.incidents.pagerduty import SIGNATURE_HEADER, SUBSCRIPTION_HEADER, WEBHOOK_ID_HEADER, sign_v3

_STATUS = {"incident.resolved": "resolved", "incident.acknowledged": "acknowledged"}


def incident_event_body(
    event_type: str,
    *,
    event_id: str,
    incident_id: str,
    title: str,
    service: str,
    occurred_at: datetime,
    service_id: str | None = None,
    created_at: datetime | None = None,
    urgency: str = "high",
    priority: str | None = "P1",
    number: int | None = None,
    agent: str | None = None,
    assignees: Sequence[str] = (),
) -> bytes:
    """The exact bytes PagerDuty would POST for an incident event. Deterministic for the same arguments,
    so a replay is recognised as the same event (`event_id`) and deduplicated."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    created = created_at or occurred_at
    data: dict[str, Any] = {
        "id": incident_id,
        "type": "incident",
        "number": number,
        "title": title,
        "status": _STATUS.get(event_type, "triggered"),
        "urgency": urgency,
        "incident_key": None,
        "created_at": _iso(created),
        "html_url": f"https://example.pagerduty.com/incidents/{incident_id}",
        "self": f"https://api.pagerduty.com/incidents/{incident_id}",
        "service": {"id": service_id or _ref_id(service), "summary": service, "type": "service_reference"},
        "assignees": [{"id": _ref_id(a), "type": "user_reference", "summary": a} for a in assignees],
        "escalation_policy": {},
        "teams": [],
        "priority": {"id": _ref_id(priority), "summary": priority, "type": "priority_reference"} if priority else None,
        "conference_bridge": None,
        "resolve_reason": None,
    }
    event = {
        "id": event_id,
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": _iso(occurred_at),
        "agent": {"id": _ref_id(agent), "type": "user_reference", "summary": agent} if agent else None,
        "client": None,
        "data": data,
    }
    return json.dumps({"event": event}, separators=(",", ":")).encode("utf-8")


def note_event_body(*, event_id: str, incident_id: str, content: str, occurred_at: datetime,
                    agent: str | None = None) -> bytes:
    """The bytes of an `incident.annotated` delivery: a responder's note (`data.type` = incident_note)."""
    event = {
        "id": event_id,
        "event_type": "incident.annotated",
        "resource_type": "incident",
        "occurred_at": _iso(occurred_at),
        "agent": {"id": _ref_id(agent), "type": "user_reference", "summary": agent} if agent else None,
        "client": None,
        "data": {"id": "N" + event_id[:12], "type": "incident_note", "content": content, "trimmed": False,
                 "incident": {"id": incident_id, "type": "incident_reference",
                              "html_url": f"https://example.pagerduty.com/incidents/{incident_id}"}},
    }
    return json.dumps({"event": event}, separators=(",", ":")).encode("utf-8")


def delivery_headers(
    body: bytes,
    *,
    secrets: Sequence[str],
    webhook_id: str | None = None,
    subscription_id: str = "PSIMSUB",
) -> dict[str, str]:
    """PagerDuty's delivery headers for `body`: one `v1=` signature per secret (as during a rotation)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        WEBHOOK_ID_HEADER: webhook_id or str(uuid.uuid4()),
        SUBSCRIPTION_HEADER: subscription_id,
        SIGNATURE_HEADER: ",".join(sign_v3(body, secret) for secret in secrets),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ref_id(name: str | None) -> str:
    # PagerDuty ids look like "PF9KMXH"; derive a stable one from the name.
    return "P" + uuid.uuid5(uuid.NAMESPACE_URL, name or "").hex[:6].upper()


__all__ = ["delivery_headers", "incident_event_body", "note_event_body", "service_id_for"]


def service_id_for(name: str) -> str:
    """The PagerDuty service id these bodies carry for a service name (for a catalog in tests and demos)."""
    return _ref_id(name)
