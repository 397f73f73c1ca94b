"""Handler of `PostGateDenial`: the denial, in the channel of the service the workload belongs to.

The channel is found as the incident root message finds it: the catalog entry of the workload (same
namespace and workload name), else CORONER_SLACK_DEFAULT_CHANNEL. The post is reserved in the outbox
under the review's uid first, so a retried job posts it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.catalog import Catalog
from bot.jobs.post_gate_denial import PostGateDenial
from bot.lifecycle.slack_thread import as_retry
from bot.ports import ChatPoster
from bot.slack.blocks import SlackMessage
from bot.slack.mrkdwn import code, escape
from bot.slack.poster import ChatPostError
from bot.store import Store
from bot.store.outbox import Reservation
from bot.store.records import Job
from bot.worker import JobLease, RetryLater

log = logging.getLogger(__name__)

BUSY_RETRY_SECONDS = 5.0


def denial_message(command: PostGateDenial) -> SlackMessage:
    workload = f"{command.kind} {command.namespace}/{command.name}"
    text = f"Coroner's admission gate denied a change to {workload} by {command.user}"
    body = (f":no_entry: *Admission gate denied* {code(workload)}, applied by {code(command.user)}\n"
            f">{escape(' '.join(command.reason.split()))}")
    return SlackMessage(text=escape(text), blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": body}}])


@dataclass
class GateDenialHandler:
    store: Store
    chat: ChatPoster | None
    catalog: Catalog
    default_channel: str | None
    worker: str

    def __call__(self, job: Job, lease: JobLease) -> None:
        command = PostGateDenial.from_payload(job.payload)
        if self.chat is None:
            log.warning("Slack is not configured (CORONER_SLACK_BOT_TOKEN): gate denial of %s/%s not posted",
                        command.namespace, command.name)
            return
        channel = self.channel_for(command)
        if channel is None:
            log.warning("gate denial of %s/%s not posted: no catalog entry with a slack_channel and "
                        "CORONER_SLACK_DEFAULT_CHANNEL is not set", command.namespace, command.name)
            return
        key = f"gate:{command.review_uid}"
        with self.store.unit_of_work() as uow:
            state, _ = uow.slack_posts.reserve(key, incident_id=None, worker=self.worker)
            uow.commit()
        if state is Reservation.POSTED:
            return
        if state is Reservation.BUSY:
            raise RetryLater(f"post {key} is being sent by another worker", after_seconds=BUSY_RETRY_SECONDS)
        lease.ensure_held()
        message = denial_message(command)
        try:
            ts = self.chat.post(channel=channel, text=message.text, blocks=message.blocks)
        except ChatPostError as exc:
            with self.store.unit_of_work() as uow:
                uow.slack_posts.release(key, worker=self.worker)
                uow.commit()
            raise as_retry(exc) from exc
        with self.store.unit_of_work() as uow:
            uow.slack_posts.mark_posted(key, channel=channel, ts=ts)
            uow.commit()

    def channel_for(self, command: PostGateDenial) -> str | None:
        entry = next((e for e in self.catalog.services.values()
                      if e.namespace == command.namespace and e.workload_name == command.name), None)
        return entry.slack_channel if entry is not None and entry.slack_channel else self.default_channel
