"""Handler of `NoteToPagerDuty`: the diagnosis summary as a note on the PagerDuty incident. The note is
reserved in the outbox under its key like a Slack post, so a retried job adds it once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain import Severity
from bot.incidents.pagerduty_api import PagerDutyClient, PagerDutyError, PagerDutyUnavailable
from bot.jobs.note_to_pagerduty import NoteToPagerDuty
from bot.lifecycle.slack_thread import stored_cause
from bot.lifecycle.stored import stored_diagnosis
from bot.render.blame import DOCKERFILE_CHECK, image_blamed
from bot.render.text import finding_line
from bot.store import Store
from bot.store.outbox import Reservation
from bot.store.records import DiagnosisRun, Job
from bot.worker import JobLease, RetryLater

log = logging.getLogger(__name__)

NOTE_FINDINGS = 8


def note_text(run: DiagnosisRun, *, service: str) -> str:
    """Plain text (PagerDuty notes are not markdown): the probable cause, then the most severe findings, in
    the diagnosis's order and the text sink's words (Dockerfile hygiene left to the thread and the draft)."""
    lines = ["Coroner diagnosis"]
    cause = stored_cause(run)
    if cause:
        lines.append(f"Probable cause: {cause}")
    diagnosis = stored_diagnosis(run, service=service)
    # The on-call reads the incident's evidence: when the image is not the cause, the Dockerfile's lint is
    # hygiene for the thread and the draft, not something to act on during the page.
    hygiene = not image_blamed(diagnosis.cause, diagnosis.rollback)
    urgent = [f for f in diagnosis.findings if f.severity.rank <= Severity.HIGH.rank
              and not (hygiene and f.check == DOCKERFILE_CHECK)]
    lines += [finding_line(i, f) for i, f in enumerate(urgent[:NOTE_FINDINGS], 1)]
    if len(urgent) > NOTE_FINDINGS:
        lines.append(f"... {len(urgent) - NOTE_FINDINGS} more high or critical findings in the Slack thread")
    return "\n".join(lines)


@dataclass
class PagerDutyNoteHandler:
    store: Store
    client: PagerDutyClient
    from_email: str
    worker: str

    def __call__(self, job: Job, lease: JobLease) -> None:
        command = NoteToPagerDuty.from_payload(job.payload)
        with self.store.unit_of_work() as uow:
            incident = uow.incidents.get(command.incident_id)
            run = uow.diagnoses.get_by_id(command.run_id)
        if incident is None or incident.external_id is None or run is None:
            log.warning("no PagerDuty note: unknown incident or diagnosis", extra={"incident_id": command.incident_id})
            return
        key = f"pagerduty-note:{command.incident_id}:{command.run_id}"
        with self.store.unit_of_work() as uow:
            state, _ = uow.slack_posts.reserve(key, incident_id=incident.id, worker=self.worker)
            uow.commit()
        if state is Reservation.POSTED:
            return
        if state is Reservation.BUSY:
            raise RetryLater(f"note {key} is being sent by another worker", after_seconds=5)
        lease.ensure_held()
        try:
            note_id = self.client.add_note(incident.external_id, content=note_text(run, service=incident.service or str(run.target.get("name", "?"))), from_email=self.from_email)
        except PagerDutyError as exc:
            with self.store.unit_of_work() as uow:
                uow.slack_posts.release(key, worker=self.worker)
                uow.commit()
            if isinstance(exc, PagerDutyUnavailable):
                raise RetryLater(str(exc), after_seconds=exc.retry_after or 30) from exc
            raise
        with self.store.unit_of_work() as uow:
            uow.slack_posts.mark_posted(key, channel="pagerduty", ts=note_id)
            uow.commit()
