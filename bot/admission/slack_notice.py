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
from bot.lifecycle.slack_thread import post_once
from bot.ports import ChatPoster
from bot.slack.blocks import SlackMessage
from bot.slack.mrkdwn import code, escape
from bot.store import Store
from bot.store.records import Job
from bot.worker import JobLease

log = logging.getLogger(__name__)


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
        post_once(self.store, self.chat, worker=self.worker, lease=lease, key=f"gate:{command.review_uid}",
                  incident_id=None, channel=channel, message=denial_message(command))

    def channel_for(self, command: PostGateDenial) -> str | None:
        entry = next((e for e in self.catalog.services.values()
                      if e.namespace == command.namespace and e.workload_name == command.name), None)
        return entry.slack_channel if entry is not None and entry.slack_channel else self.default_channel
