"""From the store to the web view's `PostmortemPage`: the latest version, its incident and its review log.

The review history is read from the audit log, where `bot.postmortem.review` writes each step as
`postmortem.<state>` with the version in its details (and a reviewer's `comment`, when there is one).
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.render.order import utc
from bot.store import Store
from bot.store.records import AuditRecord
from bot.web.page import PostmortemPage, ReviewEvent

REVIEW_ACTION_PREFIX = "postmortem."
# The audit log is read oldest first; a postmortem reviewed more often than this shows its first steps.
HISTORY_LIMIT = 500


def review_history(records: Iterable[AuditRecord]) -> tuple[ReviewEvent, ...]:
    """The review steps among audit records, oldest first. Records of other actions are skipped, and so
    is a step without a whole-number version: the page never guesses which version a comment was about."""
    events = []
    for record in records:
        if not record.action.startswith(REVIEW_ACTION_PREFIX):
            continue
        version = record.details.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            continue
        comment = record.details.get("comment")
        events.append(ReviewEvent(
            at=record.at,
            actor=record.actor,
            action=record.action.removeprefix(REVIEW_ACTION_PREFIX),
            version=version,
            comment=comment if isinstance(comment, str) and comment.strip() else None,
        ))
    return tuple(sorted(events, key=lambda e: (utc(e.at), e.version)))


def load_postmortem_page(store: Store, incident_id: str) -> PostmortemPage | None:
    """The page for the incident's latest postmortem version; None when it has none. Blocking."""
    with store.unit_of_work() as uow:
        latest = uow.postmortems.latest(incident_id)
        if latest is None:
            return None
        incident = uow.incidents.get(incident_id)
        records = uow.audit.list(target=incident_id, limit=HISTORY_LIMIT)
    return PostmortemPage(
        incident_id=incident_id,
        title=incident.title if incident else incident_id,
        service=incident.service if incident else None,
        version=latest.version,
        status=latest.status.value,
        markdown=latest.body_markdown,
        history=review_history(records),
        generated_at=latest.created_at,
    )
