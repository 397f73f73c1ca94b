"""`NoteToPagerDuty`: write a stored diagnosis back to the PagerDuty incident as a note, so responders who
live in PagerDuty's app see it too. Queued after the diagnosis is stored, only when write-back is on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.jobs.codec import from_payload, to_payload

KIND = "note_to_pagerduty"


@dataclass(frozen=True)
class NoteToPagerDuty:
    incident_id: str
    run_id: int  # the stored diagnosis run the note summarises

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.incident_id}:{self.run_id}"

    def to_payload(self) -> dict[str, Any]:
        return to_payload(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> NoteToPagerDuty:
        return from_payload(cls, payload)
