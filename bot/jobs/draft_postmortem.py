"""`DraftPostmortem`: on resolve, build the evidence bundle from what is stored, render and store a new
draft version, then post the review notice in the incident's thread."""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.codec import JobCommand

KIND = "draft_postmortem"


@dataclass(frozen=True)
class DraftPostmortem(JobCommand):
    incident_id: str
    resolution: int  # the incident's reopen count when it resolved: a re-resolve is a new draft

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.incident_id}:{self.resolution}"
