"""`DiagnoseIncident`: run the triggered playbook for an incident's service, store it, then post it.

One job may serve several incidents of the same service (an alert storm): the incidents that wait on it
are its diagnosis requests, and the result is posted to each one's thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.codec import JobCommand

KIND = "diagnose_incident"


@dataclass(frozen=True)
class DiagnoseIncident(JobCommand):
    incident_id: str  # the incident whose trigger (or reopening) queued the job
    service: str | None  # PagerDuty's service name, used when the catalog has no entry for the id
    pagerduty_service_id: str | None
    pagerduty_incident_id: str | None
    generation: int = 0  # 0 for the trigger, n for the n-th reopening

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.incident_id}:{self.generation}"


def diagnosis_key_for_job(job_dedupe_key: str) -> str:
    """The stored diagnosis run of a job: one per job, whichever worker (or retry) stores it."""
    return f"diagnosis:{job_dedupe_key}"
