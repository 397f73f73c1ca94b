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
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.domain import Incident, TimelineEntry
from bot.incidents.pagerduty import WebhookEvent, delivery_id, headers_of_interest, parse_envelope
from bot.jobs.diagnose_incident import KIND as DIAGNOSE_KIND
from bot.jobs.diagnose_incident import DiagnoseIncident, diagnosis_key_for_job
from bot.jobs.draft_postmortem import KIND as DRAFT_KIND
from bot.jobs.draft_postmortem import DraftPostmortem
from bot.jobs.post_to_slack import KIND as POST_KIND
from bot.jobs.post_to_slack import PostToSlack
from bot.ports import Clock
from bot.store import Store, StoreUnavailable, UnitOfWork
from bot.store.db import TransactionConflict

log = logging.getLogger(__name__)

PAGERDUTY = "pagerduty"
# A raw event that failed this many times is left for a person (`inbound_events.last_error` says why).
MAX_PROCESS_ATTEMPTS = 5
CONFLICT_ATTEMPTS = 3  # a deadlock between two appliers is resolved by running the loser again
# Posts wait out Slack outages: 20 attempts with backoff capped at 5 minutes is about an hour.
POST_MAX_ATTEMPTS = 20
DEFAULT_COALESCE = timedelta(seconds=120)

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
    "incident.annotated": "note added",
}
# Events that hand the incident to someone: their line names the new assignee, not who clicked.
_HANDOVER = frozenset({"incident.escalated", "incident.reassigned", "incident.delegated"})


def incident_id_for(external_id: str) -> str:
    """Coroner's id of a PagerDuty incident: stable, so every event and every replica agree on it."""
    return f"pd-{external_id}"


def timeline_key(event: WebhookEvent) -> str:
    return f"{PAGERDUTY}:{event.id}"


def timeline_text(event: WebhookEvent) -> str:
    """One timeline line for an incident or note event, in the incident report's voice."""
    verb = _VERB.get(event.event_type, event.event_type.removeprefix("incident.").replace("_", " "))
    note = event.note
    if note is not None:
        by = f" [by {event.agent.summary}]" if event.agent is not None and event.agent.summary else ""
        return f"PagerDuty note added{by}: {' '.join(note.content.split())}"
    data = event.incident
    assert data is not None
    details = []
    if data.priority is not None and data.priority.summary:
        details.append(data.priority.summary)
    if data.urgency:
        details.append(f"{data.urgency} urgency")
    text = f"PagerDuty {verb}. {data.title}".rstrip()
    if details and event.event_type in ("incident.triggered", "incident.reopened", "incident.priority_updated"):
        text += f" ({', '.join(details)})"
    if event.event_type in _HANDOVER and data.assignee_names:
        text += f" Now assigned to {data.assignee_names}."
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


class Processed(enum.StrEnum):
    DONE = "done"  # applied now
    SKIPPED = "skipped"  # processed already, or another replica holds it right now
    FAILED = "failed"  # applying raised: the event stays pending, with the error


class IncidentService:
    def __init__(
        self, store: Store, *, clock: Clock | None = None, coalesce: timedelta = DEFAULT_COALESCE
    ) -> None:
        self._store = store
        self._clock = clock or store.clock
        self._coalesce = coalesce

    def record(self, *, event: WebhookEvent, body: bytes, headers: Mapping[str, str]) -> Recorded:
        """Store the raw event unless it was seen (same `X-Webhook-Id`, or same `event.id`): one insert,
        deduplicated by the unique constraints. Raises `StoreUnavailable` when the database is down: the
        caller must make PagerDuty retry; `MalformedEvent` for an implausible `X-Webhook-Id`."""
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

    def process(self, inbound_id: int) -> Processed:
        """Apply one stored event. Raises `StoreUnavailable` only if the database is down.

        Two appliers (replicas, `coroner db reprocess`) can take events whose effects touch the same rows
        (jobs and diagnosis requests shared by a service) in different orders; PostgreSQL then aborts one
        of them as a deadlock. The transaction is the whole of the event's effect, so it is run again."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return self._process_once(inbound_id)
            except TransactionConflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                log.info("processing PagerDuty event conflicted with another transaction; running it again",
                         extra={"inbound_id": inbound_id, "attempt": attempt})
        raise AssertionError("unreachable")

    def _process_once(self, inbound_id: int) -> Processed:
        try:
            with self._store.unit_of_work() as uow:
                stored = uow.events.lock_pending(inbound_id)
                if stored is None:
                    return Processed.SKIPPED
                self.apply(uow, parse_envelope(stored.body))
                uow.events.mark_processed(inbound_id, at=self._clock.now())
                uow.commit()
                return Processed.DONE
        except StoreUnavailable:
            raise
        except Exception as exc:  # a bug in processing must not lose the stored event
            log.exception("processing PagerDuty event failed; it stays pending", extra={"inbound_id": inbound_id})
            with self._store.unit_of_work() as uow:
                uow.events.mark_failed(inbound_id, error=f"{type(exc).__name__}: {exc}")
                uow.commit()
            return Processed.FAILED

    def process_pending(self, *, limit: int = 100, retry_exhausted: bool = False) -> dict[Processed, int]:
        """(Re)process stored events not processed yet, oldest first. Events that failed
        `MAX_PROCESS_ATTEMPTS` times are skipped unless `retry_exhausted` (a person asked, after a fix).
        Returns how many this call applied, skipped (another process had them) and failed."""
        max_attempts = None if retry_exhausted else MAX_PROCESS_ATTEMPTS
        with self._store.unit_of_work() as uow:
            pending = uow.events.pending(limit=limit, max_attempts=max_attempts)
        counts = dict.fromkeys(Processed, 0)
        for event in pending:
            counts[self.process(event.id)] += 1
        return counts

    def apply(self, uow: UnitOfWork, event: WebhookEvent) -> None:
        """The effect of one event on the incident state, inside the caller's transaction: the incident's
        fields and status, one timeline line, and the jobs that follow (diagnosis, draft, Slack posts)."""
        note = event.note
        if note is not None:
            self._apply_note(uow, event, incident_id_for(str(note.incident.id)))
            return
        data = event.incident
        if data is None:
            log.info("ignored PagerDuty event type", extra={"event_type": event.event_type, "event_id": event.id})
            return
        incident_id = incident_id_for(data.id)
        # Column width; PagerDuty names are short, but one overlong name must not wedge processing.
        service = data.service.summary[:255] if data.service and data.service.summary else None
        service_id = data.service.id[:128] if data.service and data.service.id else None
        priority = data.priority.summary[:64] if data.priority and data.priority.summary else None
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
                pagerduty_service_id=service_id,
                assignee=data.assignee_names,
                priority=priority,
            )
        )
        uow.incidents.update_details(
            incident_id,
            title=data.title or None,
            service=service,
            urgency=data.urgency,
            html_url=data.html_url,
            number=data.number,
            pagerduty_service_id=service_id,
            assignee=data.assignee_names,
            priority=priority,
        )
        status = _STATUS_AFTER.get(event.event_type, data.status)
        if status:
            uow.incidents.set_status(incident_id, status=status, at=event.occurred_at)
        added = uow.timeline.add_entries(
            incident_id=incident_id,
            entries=[TimelineEntry(at=event.occurred_at, source=PAGERDUTY, text=timeline_text(event),
                                   key=timeline_key(event))],
        )
        if not added:
            return  # the same fact under another event id: its effects were applied once already
        self._post(uow, PostToSlack(incident_id=incident_id, kind="event", ref=event.id))
        if event.event_type == "incident.triggered":
            self._request_diagnosis(uow, incident_id, generation=0)
        elif event.event_type == "incident.reopened":
            self._request_diagnosis(uow, incident_id, generation=uow.incidents.count_reopen(incident_id))
        elif event.event_type == "incident.resolved":
            current = uow.incidents.get(incident_id)
            resolution = current.reopen_count if current is not None else 0
            draft = DraftPostmortem(incident_id=incident_id, resolution=resolution)
            # Many attempts: the draft waits (RetryLater) while the incident's diagnosis is still running.
            uow.jobs.enqueue(kind=DRAFT_KIND, dedupe_key=draft.dedupe_key(), payload=draft.to_payload(),
                             max_attempts=POST_MAX_ATTEMPTS)

    def _apply_note(self, uow: UnitOfWork, event: WebhookEvent, incident_id: str) -> None:
        if uow.incidents.get(incident_id) is None:
            # A note on an incident we never saw triggered (subscribed mid-incident): nothing to attach to.
            log.warning("note on an unknown incident ignored", extra={"incident_id": incident_id})
            return
        added = uow.timeline.add_entries(
            incident_id=incident_id,
            entries=[TimelineEntry(at=event.occurred_at, source=PAGERDUTY, text=timeline_text(event),
                                   key=timeline_key(event))],
        )
        if added:
            self._post(uow, PostToSlack(incident_id=incident_id, kind="event", ref=event.id))

    def _post(self, uow: UnitOfWork, command: PostToSlack) -> None:
        uow.jobs.enqueue(kind=POST_KIND, dedupe_key=command.dedupe_key(), payload=command.to_payload(),
                         max_attempts=POST_MAX_ATTEMPTS)

    def _request_diagnosis(self, uow: UnitOfWork, incident_id: str, *, generation: int) -> None:
        """Queue a diagnosis, or join the one already queued for the same service within the coalescing
        window: PagerDuty storms open dozens of incidents for one broken service."""
        incident = uow.incidents.get(incident_id)
        assert incident is not None
        group = incident.pagerduty_service_id or incident.service or incident_id
        now = self._clock.now()
        # A reopening wants a fresh look: it joins only a diagnosis that has not run yet.
        job_id = uow.diagnosis_requests.joinable_job(group, since=now - self._coalesce,
                                                     include_done=generation == 0)
        if job_id is None:
            command = DiagnoseIncident(
                incident_id=incident_id,
                service=incident.service,
                pagerduty_service_id=incident.pagerduty_service_id,
                pagerduty_incident_id=incident.external_id,
                generation=generation,
            )
            job_id = uow.jobs.enqueue(kind=DIAGNOSE_KIND, dedupe_key=command.dedupe_key(),
                                      payload=command.to_payload())
            if job_id is None:
                return  # queued already by an earlier processing of this very event
            uow.diagnosis_requests.add(incident_id=incident_id, job_id=job_id, service=group, at=now)
            return
        uow.diagnosis_requests.add(incident_id=incident_id, job_id=job_id, service=group, at=now)
        # The shared job may have finished already: then its stored diagnosis is posted here directly.
        job = uow.jobs.get(job_id, lock=True)
        run = uow.diagnoses.get(diagnosis_key_for_job(job.dedupe_key)) if job is not None else None
        if run is not None:
            self._post(uow, PostToSlack(incident_id=incident_id, kind="diagnosis", ref=str(run.id)))
