"""The job commands' payload codecs are strict: a renamed, dropped or mistyped field is an error at
decode time, never a `None` three stages later."""

from __future__ import annotations

import pytest

from bot.jobs.codec import JobPayloadError
from bot.jobs.diagnose_incident import DiagnoseIncident
from bot.jobs.draft_postmortem import DraftPostmortem
from bot.jobs.note_to_pagerduty import NoteToPagerDuty
from bot.jobs.post_to_slack import PostToSlack

COMMANDS = [
    DiagnoseIncident(incident_id="pd-Q1", service="user-profile-service", pagerduty_service_id="PF9KMXH",
                     pagerduty_incident_id="Q1", generation=2),
    DraftPostmortem(incident_id="pd-Q1", resolution=1),
    PostToSlack(incident_id="pd-Q1", kind="diagnosis", ref="7"),
    NoteToPagerDuty(incident_id="pd-Q1", run_id=7),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_round_trip(command) -> None:
    assert type(command).from_payload(command.to_payload()) == command


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_a_renamed_field_is_refused(command) -> None:
    payload = command.to_payload()
    payload["incidentId"] = payload.pop("incident_id")
    with pytest.raises(JobPayloadError, match="unknown incidentId; missing incident_id"):
        type(command).from_payload(payload)


def test_a_mistyped_field_is_refused() -> None:
    payload = DraftPostmortem(incident_id="pd-Q1", resolution=0).to_payload()
    payload["resolution"] = "0"
    with pytest.raises(JobPayloadError, match="resolution must be int"):
        DraftPostmortem.from_payload(payload)


def test_a_post_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(JobPayloadError, match="kind must be one of"):
        PostToSlack.from_payload({"incident_id": "pd-Q1", "kind": "tweet", "ref": "1", "text": None})


def test_the_dedupe_keys_tell_generations_and_resolutions_apart() -> None:
    first = DiagnoseIncident(incident_id="pd-Q1", service=None, pagerduty_service_id=None,
                             pagerduty_incident_id=None, generation=0)
    again = DiagnoseIncident(incident_id="pd-Q1", service=None, pagerduty_service_id=None,
                             pagerduty_incident_id=None, generation=1)
    assert first.dedupe_key() != again.dedupe_key()
    assert DraftPostmortem("pd-Q1", 0).dedupe_key() != DraftPostmortem("pd-Q1", 1).dedupe_key()


def test_a_gate_denial_round_trips_and_refuses_a_renamed_field() -> None:
    from bot.jobs.post_gate_denial import PostGateDenial

    command = PostGateDenial(review_uid="u-1", kind="Deployment", namespace="prod", name="api",
                             user="alice", reason="too big")
    assert PostGateDenial.from_payload(command.to_payload()) == command
    payload = command.to_payload()
    payload["reviewUid"] = payload.pop("review_uid")
    with pytest.raises(JobPayloadError, match="unknown reviewUid; missing review_uid"):
        PostGateDenial.from_payload(payload)
