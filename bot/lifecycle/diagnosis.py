"""Handler of `DiagnoseIncident`: diagnose the service, gather the image evidence, store it all, then
queue the posts (one per incident waiting on this diagnosis: an alert storm is one diagnosis)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.checks.facts import get_workload
from bot.catalog import Catalog
from bot.engine.diagnose import Diagnosis
from bot.jobs.diagnose_incident import DiagnoseIncident, diagnosis_key_for_job
from bot.jobs.note_to_pagerduty import KIND as NOTE_KIND
from bot.jobs.note_to_pagerduty import NoteToPagerDuty
from bot.jobs.post_to_slack import KIND as POST_KIND
from bot.jobs.post_to_slack import PostToSlack
from bot.lifecycle.evidence import ImageEvidence, gather
from bot.ports import ClusterReader, CoronerError, ImageReader
from bot.store import Store
from bot.store.records import Job
from bot.worker import JobLease

log = logging.getLogger(__name__)

POST_MAX_ATTEMPTS = 20


class UnknownIncidentService(CoronerError):
    """A page whose PagerDuty service is not in the catalog and carries no usable service name."""


@dataclass
class DiagnosisHandler:
    store: Store
    catalog: Catalog
    diagnose: Callable[[str], Diagnosis]  # service name -> the triggered playbook's diagnosis
    cluster_for: Callable[[str], ClusterReader]  # service name -> the reader of its cluster
    images: Callable[[], ImageReader]
    note_pagerduty: bool = False  # write the diagnosis back to PagerDuty as a note (CORONER_PAGERDUTY_API_TOKEN)

    def __call__(self, job: Job, lease: JobLease) -> None:
        command = DiagnoseIncident.from_payload(job.payload)
        entry = self.catalog.by_pagerduty_service(command.pagerduty_service_id or "")
        service = entry.name if entry is not None else command.service
        if not service:
            raise UnknownIncidentService(
                f"incident {command.incident_id}: PagerDuty service {command.pagerduty_service_id} is not in "
                "the catalog and the event names no service")
        started = self.store.clock.now()
        diagnosis = self.diagnose(service)
        evidence = self._evidence(service, diagnosis, entry.dockerfile if entry is not None else None)
        lease.ensure_held()
        with self.store.unit_of_work() as uow:
            run, _ = uow.diagnoses.record(
                dedupe_key=diagnosis_key_for_job(job.dedupe_key),
                incident_id=command.incident_id,
                findings=list(diagnosis.findings),
                started_at=started,
                finished_at=self.store.clock.now(),
                playbook=diagnosis.playbook,
                target=diagnosis.target.to_json(),
                rollback_candidates=[c.to_json() for c in diagnosis.rollback_candidates],
                image=evidence.image.to_json() if evidence.image is not None else None,
                dockerfile_fix=evidence.dockerfile_fix.to_json() if evidence.dockerfile_fix is not None else None,
                cause=diagnosis.cause.to_json() if diagnosis.cause is not None else None,
                rollback=diagnosis.rollback.to_json(),
            )
            uow.commit()
        # Serialised with incidents joining this job (they lock the same row): each incident gets the post
        # either from here or, if it joins after this commit, from its own processing.
        with self.store.unit_of_work() as uow:
            uow.jobs.get(job.id, lock=True)
            waiting = uow.diagnosis_requests.incidents_of(job.id) or [command.incident_id]
            for incident_id in waiting:
                uow.timeline.add_entries(incident_id=incident_id, entries=diagnosis.timeline)
                post = PostToSlack(incident_id=incident_id, kind="diagnosis", ref=str(run.id))
                uow.jobs.enqueue(kind=POST_KIND, dedupe_key=post.dedupe_key(), payload=post.to_payload(),
                                 max_attempts=POST_MAX_ATTEMPTS)
                if self.note_pagerduty:
                    note = NoteToPagerDuty(incident_id=incident_id, run_id=run.id)
                    uow.jobs.enqueue(kind=NOTE_KIND, dedupe_key=note.dedupe_key(), payload=note.to_payload(),
                                     max_attempts=POST_MAX_ATTEMPTS)
            uow.commit()
        log.info("diagnosis stored for %d incident(s)", len(waiting),
                 extra={"incident_id": command.incident_id, "service": service, "run_id": run.id})

    def _evidence(self, service: str, diagnosis: Diagnosis, dockerfile: Path | None) -> ImageEvidence:
        target = diagnosis.target
        try:
            workload = get_workload(self.cluster_for(service), target.kind, target.namespace, target.name)
        except CoronerError as exc:
            return ImageEvidence(image=None, dockerfile_fix=None, gap=f"the running image is unknown: {exc}")
        if not workload.containers:
            return ImageEvidence(image=None, dockerfile_fix=None, gap=f"the {target.kind} has no containers")
        return gather(images=self.images(), image_ref=workload.containers[0].image,
                      previous=diagnosis.recommended, dockerfile=dockerfile)
