"""The autopsy cache: an image's report by manifest digest, shared by every replica of `coroner serve`.

A digest names immutable content, so an entry never goes stale: the first replica to finish an autopsy
stores it, the others (and every later admission review of the same image) read it back.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.images.autopsy import ImageReport
from bot.images.stored import StoredReportError, report_from_json
from bot.ports import Clock
from bot.redact import redact_json
from bot.store.models import ImageAutopsyRow, table_of
from bot.store.repositories import insert_ignoring_conflicts

log = logging.getLogger(__name__)


class ImageAutopsyRepository:
    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def get(self, digest: str) -> ImageReport | None:
        row = self._session.get(ImageAutopsyRow, digest)
        if row is None:
            return None
        try:
            return report_from_json(row.report)
        except StoredReportError as exc:
            # Written by an older Coroner: treat it as a miss; the fresh autopsy cannot replace it (the
            # digest is the key), so it is deleted first.
            log.warning("cached autopsy of %s ignored: %s", digest, exc)
            self._session.delete(row)
            return None

    def add(self, *, digest: str, report: ImageReport) -> bool:
        """Store `report` under `digest`; False when another replica stored it first (same content)."""
        inserted = insert_ignoring_conflicts(
            self._session, table_of(ImageAutopsyRow),
            [{"digest": digest, "ref": report.ref, "size_bytes": report.totals.size_bytes,
              "report": redact_json(report.to_json()), "created_at": self._clock.now()}],
            returning=table_of(ImageAutopsyRow).c.digest,
        ).scalar_one_or_none()
        return inserted is not None

    def count(self) -> int:
        return int(self._session.scalar(sa.select(sa.func.count()).select_from(ImageAutopsyRow)) or 0)
