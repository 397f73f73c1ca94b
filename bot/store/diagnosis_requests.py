"""Which incidents wait on which diagnosis job. Incidents of one service that trigger within the
coalescing window join the job already queued for it (an alert storm is one diagnosis); each incident
keeps its own row, so the one result is posted to each incident's thread."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.store.models import DiagnosisRequestRow, JobRow, table_of
from bot.store.records import JobStatus
from bot.store.repositories import insert_ignoring_conflicts


class DiagnosisRequestRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, *, incident_id: str, job_id: int, service: str, at: datetime) -> bool:
        table = table_of(DiagnosisRequestRow)
        result = insert_ignoring_conflicts(
            self._session, table,
            [{"incident_id": incident_id, "job_id": job_id, "service": service[:255], "requested_at": at}],
            returning=table.c.id,
        )
        return result.scalar_one_or_none() is not None

    def joinable_job(self, service: str, *, since: datetime, include_done: bool) -> int | None:
        """The newest diagnosis job requested for `service` since `since` that a new incident can share:
        queued or running, or (with `include_done`) finished."""
        statuses = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]
        if include_done:
            statuses.append(JobStatus.DONE.value)
        stmt = (
            sa.select(DiagnosisRequestRow.job_id)
            .join(JobRow, JobRow.id == DiagnosisRequestRow.job_id)
            .where(DiagnosisRequestRow.service == service[:255], DiagnosisRequestRow.requested_at >= since,
                   JobRow.status.in_(statuses))
            .order_by(DiagnosisRequestRow.requested_at.desc(), DiagnosisRequestRow.id.desc())
            .limit(1)
        )
        return self._session.scalar(stmt)

    def incidents_of(self, job_id: int) -> list[str]:
        stmt = (
            sa.select(DiagnosisRequestRow.incident_id)
            .where(DiagnosisRequestRow.job_id == job_id)
            .order_by(DiagnosisRequestRow.id)
        )
        return list(self._session.scalars(stmt))

    def jobs_of(self, incident_id: str) -> list[int]:
        stmt = (
            sa.select(DiagnosisRequestRow.job_id)
            .where(DiagnosisRequestRow.incident_id == incident_id)
            .order_by(DiagnosisRequestRow.id)
        )
        return list(self._session.scalars(stmt))
