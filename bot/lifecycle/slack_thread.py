"""Handler of `PostToSlack`: keep one incident's Slack thread up to date with one stored fact.

The first post of an incident creates its root message, in the catalog's channel for the service (else
CORONER_SLACK_DEFAULT_CHANNEL). Every fact then adds its message in the thread, and the root is edited
in place to show the incident's current state. Each message is reserved in the outbox under its key
before Slack is called, so a retried or duplicated job posts nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.catalog import Catalog
from bot.domain import Incident
from bot.jobs.post_to_slack import PostToSlack
from bot.lifecycle.cause import probable_cause
from bot.lifecycle.stored import stored_diagnosis
from bot.ports import ChatPoster
from bot.render.slack import diagnosis_message
from bot.slack.blocks import SlackMessage
from bot.slack.incident_blocks import ReviewNotice, review_notice, root_message, thread_line
from bot.slack.poster import ChatPostError
from bot.store import Store
from bot.store.outbox import Reservation
from bot.store.records import DiagnosisRun, Job
from bot.worker import JobLease, RetryLater

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 5.0


def root_key(incident_id: str) -> str:
    return f"{incident_id}:root"


def post_key(command: PostToSlack) -> str:
    return f"{command.incident_id}:{command.kind}:{command.ref}"


def stored_cause(run: DiagnosisRun) -> str | None:
    return probable_cause(run.cause, run.rollback, run.findings)


@dataclass
class SlackThreadHandler:
    store: Store
    chat: ChatPoster | None
    catalog: Catalog
    default_channel: str | None
    worker: str
    now: Callable[[], datetime]
    draft_url: Callable[[str], str | None]  # incident id -> the signed web view link, when configured
    pagerduty_buttons: bool = False
    offer_rollback: bool = False

    def __call__(self, job: Job, lease: JobLease) -> None:
        command = PostToSlack.from_payload(job.payload)
        if self.chat is None:
            log.warning("Slack is not configured (CORONER_SLACK_BOT_TOKEN): nothing posted for %s",
                        command.incident_id, extra={"incident_id": command.incident_id})
            return
        with self.store.unit_of_work() as uow:
            incident = uow.incidents.get(command.incident_id)
        if incident is None:
            log.warning("post for an unknown incident dropped", extra={"incident_id": command.incident_id})
            return
        root = self._ensure_root(incident, lease)
        if root is None:
            return
        channel, thread_ts = root
        message = self._message(command, incident)
        if message is not None:
            ts = self._post_once(post_key(command), incident.id, channel, thread_ts, message, lease)
            if command.kind == "postmortem" and ts is not None:
                log.info("postmortem notice posted", extra={"incident_id": incident.id, "ts": ts})
        with self.store.unit_of_work() as uow:
            refreshed = uow.incidents.get(incident.id) or incident
        lease.ensure_held()
        self._call(lambda chat: chat.update(channel=channel, ts=thread_ts, **self._root(refreshed).to_json()))

    def _root(self, incident: Incident) -> SlackMessage:
        return root_message(incident, now=self.now(), pagerduty_buttons=self.pagerduty_buttons)

    def _channel_for(self, incident: Incident) -> str | None:
        entry = self.catalog.by_pagerduty_service(incident.pagerduty_service_id or "") or (
            self.catalog.get(incident.service) if incident.service else None)
        if entry is not None and entry.slack_channel:
            return entry.slack_channel
        return self.default_channel

    def _ensure_root(self, incident: Incident, lease: JobLease) -> tuple[str, str] | None:
        if incident.slack_channel and incident.slack_ts:
            return incident.slack_channel, incident.slack_ts
        channel = self._channel_for(incident)
        if channel is None:
            log.warning(
                "incident %s not posted: service %s has no slack_channel in the catalog and "
                "CORONER_SLACK_DEFAULT_CHANNEL is not set", incident.id, incident.service or "?",
                extra={"incident_id": incident.id})
            return None
        ts = self._post_once(root_key(incident.id), incident.id, channel, None, self._root(incident), lease)
        with self.store.unit_of_work() as uow:
            posted = uow.slack_posts.get(root_key(incident.id))
            assert posted is not None and posted.channel is not None and posted.ts is not None
            uow.incidents.set_slack_root(incident.id, channel=posted.channel, ts=posted.ts)
            uow.commit()
        return posted.channel, ts or posted.ts

    def _message(self, command: PostToSlack, incident: Incident) -> SlackMessage | None:
        if command.kind == "event":
            key = f"pagerduty:{command.ref}"
            with self.store.unit_of_work() as uow:
                entry = next((e for e in uow.timeline.list(incident.id) if e.key == key), None)
            if entry is None or entry.text.startswith("PagerDuty triggers."):
                return None  # the root message is the trigger's line
            return thread_line(entry)
        if command.kind == "diagnosis":
            with self.store.unit_of_work() as uow:
                run = uow.diagnoses.get_by_id(int(command.ref))
                if run is None:
                    return None
                uow.incidents.set_probable_cause(incident.id, stored_cause(run))
                uow.commit()
            diagnosis = stored_diagnosis(run, service=incident.service or str(run.target.get("name", "?")))
            return diagnosis_message(diagnosis, offer_rollback=self.offer_rollback)
        if command.kind == "postmortem":
            with self.store.unit_of_work() as uow:
                versions = [v for v in uow.postmortems.versions(incident.id) if str(v.version) == command.ref]
            if not versions:
                return None
            version = versions[0]
            return review_notice(ReviewNotice(incident_id=incident.id, title=incident.title,
                                              version=version.version, status=version.status.value,
                                              url=self.draft_url(incident.id)))
        return SlackMessage(text=command.text or "", blocks=[{"type": "section", "text": {
            "type": "mrkdwn", "text": command.text or ""}}])

    def _post_once(self, key: str, incident_id: str, channel: str, thread_ts: str | None, message: SlackMessage,
                   lease: JobLease) -> str | None:
        assert self.chat is not None
        return post_once(self.store, self.chat, worker=self.worker, lease=lease, key=key, incident_id=incident_id,
                         channel=channel, message=message, thread_ts=thread_ts)

    def _call(self, call: Callable[[ChatPoster], None]) -> None:
        assert self.chat is not None
        try:
            call(self.chat)
        except ChatPostError as exc:
            raise as_retry(exc) from exc


def post_once(store: Store, chat: ChatPoster, *, worker: str, lease: JobLease, key: str, incident_id: str | None,
              channel: str, message: SlackMessage, thread_ts: str | None = None) -> str | None:
    """Post `message` once for `key`, whatever retries, lost leases and other workers do: the outbox row is
    reserved before Slack is called, released if the call fails (the job retries), marked with the message's
    ts once posted. Returns the ts (the earlier post's, if it was already made)."""
    with store.unit_of_work() as uow:
        state, existing = uow.slack_posts.reserve(key, incident_id=incident_id, worker=worker)
        uow.commit()
    if state is Reservation.POSTED:
        return existing.ts if existing is not None else None
    if state is Reservation.BUSY:
        raise RetryLater(f"post {key} is being sent by another worker", after_seconds=BUSY_RETRY_SECONDS)
    lease.ensure_held()
    try:
        ts = chat.post(channel=channel, text=message.text, blocks=message.blocks, thread_ts=thread_ts)
    except ChatPostError as exc:
        with store.unit_of_work() as uow:
            uow.slack_posts.release(key, worker=worker)
            uow.commit()
        raise as_retry(exc) from exc
    with store.unit_of_work() as uow:
        uow.slack_posts.mark_posted(key, channel=channel, ts=ts)
        uow.commit()
    return ts


def as_retry(exc: ChatPostError) -> Exception:
    """A Slack failure as the worker should see it: later (with Slack's Retry-After), or an error."""
    if exc.retryable:
        return RetryLater(str(exc), after_seconds=exc.retry_after)
    return exc
