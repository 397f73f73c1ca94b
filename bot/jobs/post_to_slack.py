"""`PostToSlack`: bring one incident's Slack thread up to date with one stored fact.

Posting is its own job, after the fact is stored, so a Slack outage delays posts instead of losing them:
the job retries with backoff (and Slack's `Retry-After`). Each post is keyed by (incident, kind, ref), so
a job that runs twice posts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.jobs.codec import JobCommand, JobPayloadError

KIND = "post_to_slack"

# event: a PagerDuty event (ref = event id) → root updated in place + one thread line
# diagnosis: a stored diagnosis (ref = diagnosis run id) → thread message + probable cause on the root
# postmortem: a stored draft version (ref = version) → the review notice with its buttons
# note: a line written by Coroner itself (ref = a stable id; text carried in `text`)
PostKind = Literal["event", "diagnosis", "postmortem", "note"]
POST_KINDS: tuple[str, ...] = ("event", "diagnosis", "postmortem", "note")


@dataclass(frozen=True)
class PostToSlack(JobCommand):
    incident_id: str
    kind: str
    ref: str
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in POST_KINDS:
            raise JobPayloadError(f"PostToSlack: kind must be one of {', '.join(POST_KINDS)}, not {self.kind!r}")

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.incident_id}:{self.kind}:{self.ref}"
