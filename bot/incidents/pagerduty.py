"""PagerDuty Webhooks V3: signature verification and the envelope, as typed values.

Neither the `pagerduty` nor the `pdpyras` SDK verifies webhook signatures, so this is ours, after
PagerDuty's docs (`docs/webhooks/04-Signatures.md`): `X-PagerDuty-Signature` carries one or more
comma-separated `v1=<hex>` values (several while a secret rotates); each is the lowercase hex
HMAC-SHA256 of the raw body keyed with a subscription secret; the request is genuine if any value
matches any secret we hold. There is no timestamp, hence no replay window: duplicates are caught by
the store instead (`X-Webhook-Id`, `event.id`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.ports import CoronerError

SIGNATURE_HEADER = "X-PagerDuty-Signature"
WEBHOOK_ID_HEADER = "X-Webhook-Id"
SUBSCRIPTION_HEADER = "X-Webhook-Subscription"
SIGNATURE_SCHEME = "v1"

# Event types whose `data` is an incident (REFERENCE.md §1.1); the rest are stored and ignored.
INCIDENT_DATA_EVENTS = frozenset(
    {
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.resolved",
        "incident.reopened",
        "incident.escalated",
        "incident.reassigned",
        "incident.delegated",
        "incident.priority_updated",
        "incident.service_updated",
        "incident.incident_type.changed",
    }
)


class MalformedEvent(CoronerError):
    """The body is not JSON, or not a V3 webhook envelope. Retrying the same bytes cannot fix it."""


def sign_v3(body: bytes, secret: str) -> str:
    """The `X-PagerDuty-Signature` value PagerDuty sends for `body` under `secret`: `v1=<hex>`.
    Join several with ", " to imitate a rotation."""
    return f"{SIGNATURE_SCHEME}={_digest(body, secret)}"


def _digest(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_v3(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True if any `v1=` value in `header` is the HMAC of the exact `body` under any of `secrets`.

    Constant-time comparisons; every pair is compared (no early exit that would reveal which secret or
    which position matched). No secret configured means nothing verifies: failing closed."""
    if not header:
        return False
    offered = []
    for part in header.split(","):
        scheme, sep, value = part.strip().partition("=")
        if sep and scheme.strip() == SIGNATURE_SCHEME and value.strip():
            offered.append(value.strip().lower().encode("ascii", "replace"))
    expected = [
        _digest(body, secret).encode("ascii")
        for secret in secrets
        if secret
    ]
    matched = False
    for candidate in offered:
        for digest in expected:
            matched |= hmac.compare_digest(candidate, digest)
    return matched


class Reference(BaseModel):
    """A PagerDuty `*_reference` object (service, priority, agent, …). Unknown fields are kept aside."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    type: str | None = None
    summary: str | None = None
    html_url: str | None = None


class IncidentData(BaseModel):
    """`event.data` when `data.type == "incident"`; only the fields Coroner uses are required."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=60)  # becomes Coroner's incident id "pd-<id>"
    type: str = "incident"
    number: int | None = None
    title: str = ""
    status: str | None = None
    urgency: str | None = None
    incident_key: str | None = None
    created_at: datetime | None = None
    html_url: str | None = None
    service: Reference | None = None
    priority: Reference | None = None
    assignees: list[Reference] = Field(default_factory=list)
    resolve_reason: Any = None

    @property
    def assignee_names(self) -> str | None:
        names = [a.summary for a in self.assignees if a.summary]
        return ", ".join(names) if names else None


class NoteData(BaseModel):
    """`event.data` of `incident.annotated`: a responder's note on an incident."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    type: str = "incident_note"
    incident: Reference
    content: str = ""
    trimmed: bool = False


class WebhookEvent(BaseModel):
    """The `event` of a V3 envelope. Lenient: any `event_type` is accepted (the list grows), `agent` and
    `client` may be null, `data` stays a mapping unless it is an incident (see `incident`)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Bounded like the columns they land in: an oversized value is a 400 here, not a database error later.
    id: str = Field(min_length=1, max_length=128)
    event_type: str = Field(min_length=1, max_length=128)
    resource_type: str | None = None
    occurred_at: datetime
    agent: Reference | None = None
    client: dict[str, Any] | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def incident(self) -> IncidentData | None:
        """The incident this event carries, for the event types whose data is an incident."""
        if self.event_type not in INCIDENT_DATA_EVENTS:
            return None
        return IncidentData.model_validate(self.data)

    @property
    def note(self) -> NoteData | None:
        """The note of an `incident.annotated` event."""
        if self.event_type != "incident.annotated":
            return None
        return NoteData.model_validate(self.data)


def parse_envelope(body: bytes) -> WebhookEvent:
    """Parse a V3 body into its event. Raises `MalformedEvent` (with a short reason, no body echo)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEvent(f"body is not JSON: {exc.__class__.__name__}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("event"), Mapping):
        raise MalformedEvent("not a V3 webhook: expected an object with an 'event' object")
    try:
        event = WebhookEvent.model_validate(document["event"])
    except ValidationError as exc:
        raise MalformedEvent(f"invalid V3 event: bad or missing {_fields(exc)}") from None
    try:
        # Validate incident data at the door: if it is unusable, retrying will not make it usable.
        event.incident  # noqa: B018
        note = event.note
        if note is not None and not note.incident.id:
            raise MalformedEvent("invalid V3 event: bad or missing data.incident.id")
    except ValidationError as exc:
        raise MalformedEvent(f"invalid V3 event: bad or missing {_fields(exc, prefix='data.')}") from None
    return event


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """`X-Webhook-Id`, the same on every retry of one delivery. Raises `MalformedEvent` when it is not
    a plausible id."""
    value = {k.lower(): v for k, v in headers.items()}.get(WEBHOOK_ID_HEADER.lower(), "").strip()
    if len(value) > 128:
        raise MalformedEvent(f"{WEBHOOK_ID_HEADER} is too long")
    return value or None


def _fields(exc: ValidationError, prefix: str = "") -> str:
    return ", ".join(sorted({prefix + ".".join(str(p) for p in err["loc"]) for err in exc.errors()}))


def headers_of_interest(headers: Mapping[str, str]) -> dict[str, str]:
    """The delivery headers worth keeping next to the raw body. The signature is not kept: it has done
    its job once verified, and the stored body is what later processing trusts."""
    keep = (WEBHOOK_ID_HEADER, SUBSCRIPTION_HEADER, "User-Agent", "Content-Type")
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name.lower()] for name in keep if name.lower() in lowered}
