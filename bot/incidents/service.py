"""From a verified PagerDuty event to Coroner's incident, timeline and diagnosis job.

Two steps, two transactions, on purpose:
1. `record` stores the raw event once (the source of truth) — that is all the webhook must do before
   answering 202.
2. `process` derives the incident state from a stored event and marks it processed, in one transaction.
   If it fails, the raw event stays pending and `process_pending` picks it up again later; nothing
   accepted is lost. Every effect is idempotent (upsert by PagerDuty id, timeline keyed on `event.id`,
   one job per incident), so processing an event twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain import Incident, TimelineEntry
from bot.incidents.pagerduty import WebhookEvent, delivery_id, headers_of_interest, parse_envelope
from bot.ports import Clock
from bot.store import Store, StoreUnavailable, UnitOfWork

log = logging.getLogger(__name__)

PAGERDUTY = "pagerduty"
DIAGNOSE_JOB = "diagnose"
# A raw event that failed this many times is left for a person (`inbound_events.last_error` says why).
MAX_PROCESS_ATTEMPTS = 5

# PagerDuty event type -> the incident status it leaves behind.
_STATUS_AFTER = {
    "incident.triggered": "triggered",
    "incident.reopened": "triggered",
    "incident.unacknowledged": "triggered",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
}

# Timeline wording, in the incident report's voice: "PagerDuty triggers. <title> (P1, high urgency)".
_VERB = {
    "incident.triggered": "triggers",
    "incident.acknowledged": "acknowledged",
    "incident.unacknowledged": "unacknowledged",
    "incident.resolved": "resolves",
    "incident.reopened": "reopens",
    "incident.escalated": "escalates",
    "incident.reassigned": "reassigned",
    "incident.delegated": "delegated",
    "incident.priority_updated": "priority changed",
    "incident.service_updated": "service changed",
    "incident.incident_type.changed": "incident type changed",
}


def incident_id_for(external_id: str) -> str:
    """Coroner's id of a PagerDuty incident: stable, so every event and every replica agree on it."""
    return f"pd-{external_id}"


def diagnose_job_key(incident_id: str) -> str:
    return f"{DIAGNOSE_JOB}:{incident_id}"


def timeline_key(event: WebhookEvent) -> str:
    return f"{PAGERDUTY}:{event.id}"


def timeline_text(event: WebhookEvent) -> str:
    data = event.incident
    assert data is not None
    verb = _VERB.get(event.event_type, event.event_type.removeprefix("incident.").replace("_", " "))
    details = []
    if data.priority is not None and data.priority.summary:
        details.append(data.priority.summary)
    if data.urgency:
        details.append(f"{data.urgency} urgency")
    text = f"PagerDuty {verb}. {data.title}".rstrip()
    if details and event.event_type in ("incident.triggered", "incident.reopened", "incident.priority_updated"):
        text += f" ({', '.join(details)})"
    if event.agent is not None and event.agent.summary and event.event_type != "incident.triggered":
        text += f" [by {event.agent.summary}]"
    return text


@dataclass(frozen=True)
class Recorded:
    """What `record` did: `inbound_id` is None for a duplicate delivery."""

    inbound_id: int | None

    @property
    def duplicate(self) -> bool:
        return self.inbound_id is None


class IncidentService:
    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self._store = store
        self._clock = clock or store.clock

    def record(self, *, event: WebhookEvent, body: bytes, headers: Mapping[str, str]) -> Recorded:
        """Store the raw event unless it was seen (same `X-Webhook-Id`, or same `event.id`).
        Raises `StoreUnavailable` when the database is down: the caller must make PagerDuty retry;
        `MalformedEvent` for an implausible `X-Webhook-Id`."""
        webhook_id = delivery_id(headers)
        with self._store.unit_of_work() as uow:
            inbound_id = uow.events.add(
                source=PAGERDUTY,
                delivery_id=webhook_id,
                event_id=event.id,
                event_type=event.event_type,
                headers=headers_of_interest(headers),
                body=body,
                received_at=self._clock.now(),
            )
            uow.commit()
        if inbound_id is None:
            log.info("duplicate PagerDuty delivery", extra={"event_id": event.id, "delivery_id": webhook_id})
        return Recorded(inbound_id)

    def process(self, inbound_id: int) -> bool:
        """Apply one stored event. True if it is processed now (or already was); False if it failed and
        stays pending. Raises `StoreUnavailable` only if the database is down."""
        try:
            with self._store.unit_of_work() as uow:
                stored = uow.events.lock_pending(inbound_id)
                if stored is None:
                    return True  # processed already, or another replica holds it right now
                self.apply(uow, parse_envelope(stored.body))
                uow.events.mark_processed(inbound_id, at=self._clock.now())
                uow.commit()
                return True
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug in processing must not lose the stored event
            log.exception("processing PagerDuty event failed; it stays pending", extra={"inbound_id": inbound_id})
            with self._store.unit_of_work() as uow:
                uow.events.mark_failed(inbound_id, error=f"{type(exc).__name__}: {exc}")
                uow.commit()
            return False

    def process_pending(self, *, limit: int = 100, retry_exhausted: bool = False) -> int:
        """(Re)process stored events not processed yet, oldest first. Events that failed
        `MAX_PROCESS_ATTEMPTS` times are skipped unless `retry_exhausted` (a person asked, after a fix).
        Returns how many got processed."""
        max_attempts = None if retry_exhausted else MAX_PROCESS_ATTEMPTS
        with self._store.unit_of_work() as uow:
            pending = uow.events.pending(limit=limit, max_attempts=max_attempts)
        return sum(1 for e in pending if self.process(e.id))

    def apply(self, uow: UnitOfWork, event: WebhookEvent) -> None:
        """The effect of one event on the incident state, inside the caller's transaction."""
        data = event.incident
        if data is None:
            log.info("ignored PagerDuty event type", extra={"event_type": event.event_type, "event_id": event.id})
            return
        incident_id = incident_id_for(data.id)
        # Column width; PagerDuty names are short, but one overlong name must not wedge processing.
        service = data.service.summary[:255] if data.service and data.service.summary else None
        uow.incidents.add_if_absent(
            Incident(
                id=incident_id,
                source=PAGERDUTY,
                external_id=data.id,
                title=data.title,
                service=service,
                status=_STATUS_AFTER.get(event.event_type, data.status or "triggered"),
                urgency=data.urgency,
                created_at=data.created_at or event.occurred_at,
                number=data.number,
                html_url=data.html_url,
            )
        )
        uow.incidents.update_details(
            incident_id,
            title=data.title or None,
            service=service,
            urgency=data.urgency,
            html_url=data.html_url,
            number=data.number,
        )
        status = _STATUS_AFTER.get(event.event_type, data.status)
        if status:
            uow.incidents.set_status(incident_id, status=status, at=event.occurred_at)
        uow.timeline.add_entries(
            incident_id=incident_id,
            entries=[
                TimelineEntry(
                    at=event.occurred_at, source=PAGERDUTY, text=timeline_text(event), key=timeline_key(event)
                )
            ],
        )
        if event.event_type == "incident.triggered":
            uow.jobs.enqueue(
                kind=DIAGNOSE_JOB,
                dedupe_key=diagnose_job_key(incident_id),
                payload={"incident_id": incident_id, "service": service, "pagerduty_incident_id": data.id},
            )
