"""Handler of `DraftPostmortem`: on resolve, the evidence bundle is built from what is stored (the
incident, its merged timeline, the diagnosis at alert time with its image autopsy and Dockerfile fix),
rendered, stored as a new draft version, and announced in the incident's thread for review."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.incidents.pagerduty_api import LogEnrichment
from bot.jobs.diagnose_incident import diagnosis_key_for_job
from bot.jobs.draft_postmortem import DraftPostmortem
from bot.jobs.post_to_slack import KIND as POST_KIND
from bot.jobs.post_to_slack import PostToSlack
from bot.lifecycle.diagnosis import POST_MAX_ATTEMPTS
from bot.ports import CoronerError
from bot.postmortem.bundle import load_bundle
from bot.postmortem.readiness import not_ready_of
from bot.postmortem.render import render_postmortem
from bot.postmortem.view import build_view
from bot.store import Store
from bot.store.records import DiagnosisRun, Job, JobStatus
from bot.worker import JobLease, RetryLater

log = logging.getLogger(__name__)

# Best-effort enrichment of the timeline from PagerDuty's log entries (who was notified, who
# acknowledged), by PagerDuty incident id: the entries, or why there are none.
Enrich = Callable[[str], LogEnrichment]


DIAGNOSIS_WAIT_SECONDS = 10.0


class DraftError(CoronerError):
    """The postmortem of an incident cannot be drafted (the incident is unknown)."""


def diagnosis_in_progress(store: Store, incident_id: str) -> bool:
    with store.unit_of_work() as uow:
        jobs = [uow.jobs.get(job_id) for job_id in uow.diagnosis_requests.jobs_of(incident_id)]
    return any(job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING) for job in jobs)


def diagnoses_of(store: Store, incident_id: str) -> list[DiagnosisRun]:
    """Every diagnosis run of this incident, its own or shared with others of an alert storm, oldest first."""
    with store.unit_of_work() as uow:
        runs = uow.diagnoses.list_for_incident(incident_id)
        for job_id in uow.diagnosis_requests.jobs_of(incident_id):
            job = uow.jobs.get(job_id)
            shared = uow.diagnoses.get(diagnosis_key_for_job(job.dedupe_key)) if job is not None else None
            if shared is not None and all(r.id != shared.id for r in runs):
                runs.append(shared)
    return sorted(runs, key=lambda r: (r.started_at, r.id))


def latest_diagnosis(store: Store, incident_id: str) -> DiagnosisRun | None:
    """The diagnosis the draft is written from: the incident's latest."""
    runs = diagnoses_of(store, incident_id)
    return runs[-1] if runs else None


@dataclass
class DraftHandler:
    store: Store
    templates_dir: Path | None = None
    enrich: Enrich | None = None

    def __call__(self, job: Job, lease: JobLease) -> None:
        command = DraftPostmortem.from_payload(job.payload)
        with self.store.unit_of_work() as uow:
            incident = uow.incidents.get(command.incident_id)
        if incident is None:
            raise DraftError(f"no incident {command.incident_id}")
        if diagnosis_in_progress(self.store, incident.id):
            # Resolved before its diagnosis finished: the draft is written from the diagnosis, so it waits.
            raise RetryLater(f"the diagnosis of {incident.id} is still running", after_seconds=DIAGNOSIS_WAIT_SECONDS)
        gaps = []
        if incident.external_id and self.enrich is not None:
            enrichment = self.enrich(incident.external_id)
            if enrichment.entries:
                with self.store.unit_of_work() as uow:
                    uow.timeline.add_entries(incident_id=incident.id, entries=enrichment.entries)
                    uow.commit()
            if enrichment.missing:
                gaps.append(enrichment.missing)
        runs = diagnoses_of(self.store, incident.id)
        run = runs[-1] if runs else None
        # The Impact's peak of pods not ready is over every run, not only the one the draft is written from.
        readiness = [m for r in runs if (m := not_ready_of(r.findings, at=r.started_at)) is not None]
        with self.store.unit_of_work() as uow:
            timeline = uow.timeline.list(incident.id)
        bundle = load_bundle({
            "incident": incident.to_json(),
            "timeline": [e.to_json() for e in timeline],
            "findings": [f.to_json() for f in run.findings] if run else [],
            "rollback_candidates": list(run.rollback_candidates) if run else [],
            "image": run.image if run else None,
            "dockerfile_fix": run.dockerfile_fix if run else None,
            # The diagnosis's own conclusions; a run stored before them is reasoned about by `build_view`.
            "cause": run.cause if run else None,
            "rollback": run.rollback if run else None,
            "target": run.target if run else None,
        })
        if run is None:
            gaps.append("no diagnosis was stored for this incident")
        markdown = render_postmortem(build_view(**bundle, gaps=gaps, readiness=readiness), templates_dir=self.templates_dir)
        lease.ensure_held()
        # One transaction: the version is numbered once, and its Slack notice is queued with it or not at all.
        with self.store.unit_of_work() as uow:
            version, created = uow.postmortems.save_version(
                incident_id=incident.id, body_markdown=markdown, author="coroner")
            post = PostToSlack(incident_id=incident.id, kind="postmortem", ref=str(version.version))
            uow.jobs.enqueue(kind=POST_KIND, dedupe_key=post.dedupe_key(), payload=post.to_payload(),
                             max_attempts=POST_MAX_ATTEMPTS)
            uow.commit()
        log.info("postmortem v%d %s", version.version, "drafted" if created else "unchanged",
                 extra={"incident_id": incident.id})
