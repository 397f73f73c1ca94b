"""Read-only figures about the job queue, for the metrics scrape (`bot.metrics`). One grouped query on the
indexed `status` column, so a scrape costs the same however many finished jobs the table keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bot.store.models import JobRow
from bot.store.records import JobStatus
from bot.store.uow import Store


@dataclass(frozen=True)
class QueuedJobs:
    """The jobs of one kind waiting for a worker: how many, and when the oldest was queued."""

    kind: str
    depth: int
    oldest_created_at: datetime


def queued_jobs(store: Store) -> list[QueuedJobs]:
    """One entry per kind that has queued jobs, by kind."""
    stmt = (
        sa.select(JobRow.kind, sa.func.count(), sa.func.min(JobRow.created_at))
        .where(JobRow.status == JobStatus.QUEUED.value)
        .group_by(JobRow.kind)
        .order_by(JobRow.kind)
    )
    with store.unit_of_work() as uow:
        return [QueuedJobs(kind, depth, oldest) for kind, depth, oldest in uow.session.execute(stmt)]
