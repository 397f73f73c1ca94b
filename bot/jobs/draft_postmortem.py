"""`DraftPostmortem`: on resolve, build the evidence bundle from what is stored, render and store a new
draft version, then post the review notice in the incident's thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.jobs.codec import from_payload, to_payload

KIND = "draft_postmortem"


@dataclass(frozen=True)
class DraftPostmortem:
    incident_id: str
    resolution: int  # the incident's reopen count when it resolved: a re-resolve is a new draft

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.incident_id}:{self.resolution}"

    def to_payload(self) -> dict[str, Any]:
        return to_payload(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> DraftPostmortem:
        return from_payload(cls, payload)
