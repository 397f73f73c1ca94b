"""`NoteToPagerDuty`: write a stored diagnosis back to the PagerDuty incident as a note, so responders who
live in PagerDuty's app see it too. Queued after the diagnosis is stored, only when write-back is on."""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.codec import JobCommand

KIND = "note_to_pagerduty"


@dataclass(frozen=True)
class NoteToPagerDuty(JobCommand):
    incident_id: str
    run_id: int  # the stored diagnosis run the note summarises

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.incident_id}:{self.run_id}"
