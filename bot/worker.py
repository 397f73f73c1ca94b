"""Runs durable diagnosis jobs: claim one, diagnose, store the findings and the timeline, complete.

The job row is the unit of durability: a crash leaves its lease to expire, and another worker (or
this one after a restart) claims it again. Everything a job writes is idempotent on stable keys, so a
job that runs twice after a lost lease adds no duplicate rows.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.engine.diagnose import Diagnosis
from bot.incidents.service import DIAGNOSE_JOB
from bot.store import Store
from bot.store.records import Job

log = logging.getLogger(__name__)

Diagnose = Callable[[Job], Diagnosis]


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def diagnosis_key(incident_id: str, playbook: str) -> str:
    return f"diagnosis:{incident_id}:{playbook}"


@dataclass(frozen=True)
class JobOutcome:
    job: Job
    diagnosis: Diagnosis


def record_diagnosis(store: Store, *, incident_id: str | None, diagnosis: Diagnosis, started_at: datetime) -> bool:
    """Store a diagnosis and its timeline; returns False when this incident already had it."""
    _, created = store.record_diagnosis(
        dedupe_key=diagnosis_key(incident_id or diagnosis.service, diagnosis.playbook),
        incident_id=incident_id,
        findings=list(diagnosis.findings),
        started_at=started_at,
        finished_at=datetime.now(UTC),
        playbook=diagnosis.playbook,
        target=diagnosis.target.to_json(),
    )
    if incident_id is not None:
        store.add_timeline_entries(incident_id=incident_id, entries=diagnosis.timeline)
    return created


class DiagnosisWorker:
    def __init__(self, store: Store, diagnose: Diagnose, *, name: str | None = None) -> None:
        self._store = store
        self._diagnose = diagnose
        self.name = name or default_worker_name()

    def run_once(self) -> JobOutcome | None:
        """Run the oldest claimable diagnosis job; None when the queue is empty.

        A failing diagnosis is recorded on the job (queued again while attempts remain) and re-raised,
        so the caller decides whether to go on with the next job."""
        with self._store.unit_of_work() as uow:
            job = uow.jobs.claim(worker=self.name, kinds=[DIAGNOSE_JOB])
            uow.commit()
        if job is None:
            return None
        started = datetime.now(UTC)
        try:
            diagnosis = self._diagnose(job)
            record_diagnosis(self._store, incident_id=job.payload.get("incident_id"), diagnosis=diagnosis,
                             started_at=started)
        except Exception as exc:
            with self._store.unit_of_work() as uow:
                uow.jobs.fail(job.id, worker=self.name, error=f"{type(exc).__name__}: {exc}")
                uow.commit()
            raise
        with self._store.unit_of_work() as uow:
            done = uow.jobs.complete(job.id, worker=self.name)
            uow.commit()
        log.info("diagnosis job done", extra={"job_id": job.id, "service": diagnosis.service})
        return JobOutcome(job=done, diagnosis=diagnosis)

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 2.0) -> None:
        """Work through the queue until `stop` is set, polling every `idle_seconds` when it is empty."""
        while not stop.is_set():
            try:
                outcome = self.run_once()
            except Exception:  # noqa: BLE001 - already recorded on the job; the worker must outlive one bad job
                log.exception("diagnosis job failed")
                continue
            if outcome is None:
                stop.wait(idle_seconds)
