"""Slack posts as an outbox: a post is reserved under its key before Slack is called and marked posted
after, so a job that runs twice (a retry, a lost lease, two replicas) posts each message once.

A reservation whose worker died is taken over after `stale_after`; that narrow window (a crash between
Slack's answer and our commit) is the only way a message can be posted twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.ports import Clock
from bot.store.models import SlackPostRow, table_of
from bot.store.repositories import insert_ignoring_conflicts


class Reservation(enum.StrEnum):
    RESERVED = "reserved"  # this worker may post now
    POSTED = "posted"  # already posted: do nothing
    BUSY = "busy"  # another worker is posting it right now: try again later


@dataclass(frozen=True)
class SlackPost:
    key: str
    incident_id: str | None
    channel: str | None
    ts: str | None


class SlackPostRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def reserve(
        self, key: str, *, incident_id: str | None, worker: str, stale_after: timedelta = timedelta(minutes=2)
    ) -> tuple[Reservation, SlackPost | None]:
        now = self._clock.now()
        table = table_of(SlackPostRow)
        inserted = insert_ignoring_conflicts(
            self._session, table,
            [{"key": key, "incident_id": incident_id, "reserved_by": worker, "reserved_at": now,
              "channel": None, "ts": None, "posted_at": None}],
            returning=table.c.id,
        ).scalar_one_or_none()
        if inserted is not None:
            return Reservation.RESERVED, None
        stmt = sa.select(SlackPostRow).where(SlackPostRow.key == key)
        if self._session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = self._session.scalars(stmt).one()
        if row.ts is not None:
            return Reservation.POSTED, _post(row)
        if row.reserved_by != worker and row.reserved_at > now - stale_after:
            return Reservation.BUSY, None
        row.reserved_by, row.reserved_at = worker, now
        return Reservation.RESERVED, None

    def mark_posted(self, key: str, *, channel: str, ts: str) -> None:
        self._session.execute(
            sa.update(SlackPostRow).where(SlackPostRow.key == key)
            .values(channel=channel, ts=ts, posted_at=self._clock.now(), reserved_by=None)
        )

    def release(self, key: str, *, worker: str) -> None:
        """Give a reservation back after Slack refused the post, so that the retry can take it at once."""
        self._session.execute(
            sa.delete(SlackPostRow).where(SlackPostRow.key == key, SlackPostRow.reserved_by == worker,
                                          SlackPostRow.ts.is_(None))
        )

    def get(self, key: str) -> SlackPost | None:
        row = self._session.scalars(sa.select(SlackPostRow).where(SlackPostRow.key == key)).one_or_none()
        return _post(row) if row else None

    def list(self, incident_id: str) -> list[SlackPost]:
        rows = self._session.scalars(
            sa.select(SlackPostRow).where(SlackPostRow.incident_id == incident_id).order_by(SlackPostRow.id)
        )
        return [_post(row) for row in rows]


def _post(row: SlackPostRow) -> SlackPost:
    return SlackPost(key=row.key, incident_id=row.incident_id, channel=row.channel, ts=row.ts)
