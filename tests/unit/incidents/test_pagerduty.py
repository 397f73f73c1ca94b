import json
from datetime import UTC, datetime

import pytest

from bot.incidents.pagerduty import (
    MalformedEvent,
    delivery_id,
    headers_of_interest,
    parse_envelope,
    sign_v3,
    verify_v3,
)
from bot.incidents.service import timeline_text

BODY = b'{"event":{"id":"e1"}}'


def envelope(**event_overrides):
    event = {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2024-05-14T03:02:11.169Z",
        "agent": {"id": "PLH1HKV", "type": "user_reference", "summary": "Tenex Engineer", "self": "x", "html_url": "y"},
        "client": {"name": "PagerDuty"},
        "data": {
            "id": "PGR0VU2",
            "type": "incident",
            "number": 2,
            "title": "user-profile-service: readiness failing",
            "status": "triggered",
            "urgency": "high",
            "incident_key": "k",
            "created_at": "2024-05-14T03:02:11Z",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
            "self": "https://api.pagerduty.com/incidents/PGR0VU2",
            "service": {"id": "PF9KMXH", "summary": "user-profile-service", "type": "service_reference"},
            "assignees": [],
            "escalation_policy": {},
            "teams": [],
            "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "conference_bridge": {},
            "resolve_reason": None,
        },
    }
    event.update(event_overrides)
    return json.dumps({"event": event}).encode()


def test_sign_v3_matches_an_independent_hmac():
    # Computed with `printf abc | openssl dgst -sha256 -hmac whsec-new`.
    assert sign_v3(b"abc", "whsec-new") == "v1=da4ca775adc3d8c9c5154d4234595d07b6ebce28a036d45d0609b759a7cadc48"


def test_valid_signature_is_accepted():
    assert verify_v3(BODY, sign_v3(BODY, "s1"), ["s1"])


def test_any_of_several_header_values_may_match_during_rotation():
    header = f"{sign_v3(BODY, 'retired')},{sign_v3(BODY, 'current')}"
    assert verify_v3(BODY, header, ["current"])


def test_any_configured_secret_may_match_during_rotation():
    assert verify_v3(BODY, sign_v3(BODY, "old"), ["new", "old"])
    assert verify_v3(BODY, sign_v3(BODY, "new"), ["new", "old"])


def test_whitespace_around_values_and_uppercase_hex_are_tolerated():
    digest = sign_v3(BODY, "s1").removeprefix("v1=")
    assert verify_v3(BODY, f"  v1=deadbeef ,  v1={digest.upper()}  ", ["s1"])


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=", "v1=deadbeef", "v0=" + "0" * 64, "garbage", ",,,"],
)
def test_missing_or_wrong_signature_is_refused(header):
    assert not verify_v3(BODY, header, ["s1"])


def test_signature_is_over_the_exact_bytes():
    reserialised = json.dumps(json.loads(BODY), indent=1).encode()
    assert not verify_v3(reserialised, sign_v3(BODY, "s1"), ["s1"])


def test_wrong_secret_is_refused():
    assert not verify_v3(BODY, sign_v3(BODY, "attacker"), ["s1", "s2"])


def test_no_configured_secret_refuses_everything():
    assert not verify_v3(BODY, sign_v3(BODY, ""), [])
    assert not verify_v3(BODY, sign_v3(BODY, ""), [""])


def test_envelope_parses_into_a_typed_event():
    event = parse_envelope(envelope())
    assert event.event_type == "incident.triggered"
    assert event.occurred_at == datetime(2024, 5, 14, 3, 2, 11, 169000, tzinfo=UTC)
    incident = event.incident
    assert incident is not None
    assert (incident.id, incident.number, incident.urgency) == ("PGR0VU2", 2, "high")
    assert incident.service is not None and incident.service.summary == "user-profile-service"
    assert incident.priority is not None and incident.priority.summary == "P1"


def test_agent_and_client_may_be_null():
    event = parse_envelope(envelope(agent=None, client=None))
    assert event.agent is None and event.client is None


def test_unknown_event_type_is_accepted_with_its_data_kept():
    event = parse_envelope(envelope(event_type="incident.workflow.started", data={"type": "workflow", "x": 1}))
    assert event.incident is None
    assert event.data == {"type": "workflow", "x": 1}


def test_pagey_ping_without_data_parses():
    body = {"event": {"id": "p1", "event_type": "pagey.ping", "occurred_at": "2024-05-14T03:00:00Z", "agent": None}}
    event = parse_envelope(json.dumps(body).encode())
    assert event.event_type == "pagey.ping"


@pytest.mark.parametrize(
    ('body', 'reason'),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "expected an object"),
        (b'{"messages": []}', "expected an object"),
        (json.dumps({"event": {"event_type": "incident.triggered"}}).encode(), "event"),
    ],
)
def test_malformed_bodies_are_refused_with_a_short_reason(body, reason):
    with pytest.raises(MalformedEvent, match=reason):
        parse_envelope(body)


def test_incident_event_without_incident_id_is_refused():
    with pytest.raises(MalformedEvent, match="id"):
        parse_envelope(envelope(data={"type": "incident", "title": "no id"}))


def test_bad_timestamp_is_refused():
    with pytest.raises(MalformedEvent, match="occurred_at"):
        parse_envelope(envelope(occurred_at="yesterday"))


def test_signature_header_is_not_kept():
    kept = headers_of_interest(
        {"x-pagerduty-signature": "v1=abc", "x-webhook-id": "w1", "user-agent": "PagerDuty-Webhook/V3.0"}
    )
    assert kept == {"X-Webhook-Id": "w1", "User-Agent": "PagerDuty-Webhook/V3.0"}


def test_timeline_text_reads_like_the_incident_report():
    event = parse_envelope(envelope())
    assert timeline_text(event) == "PagerDuty triggers. user-profile-service: readiness failing (P1, high urgency)"


def test_resolution_names_who_resolved():
    event = parse_envelope(envelope(event_type="incident.resolved"))
    assert timeline_text(event) == "PagerDuty resolves. user-profile-service: readiness failing [by Tenex Engineer]"


def test_oversized_ids_are_refused_before_they_reach_the_database():
    with pytest.raises(MalformedEvent, match="id"):
        parse_envelope(envelope(id="x" * 129))
    with pytest.raises(MalformedEvent, match="data.id"):
        parse_envelope(envelope(data={"id": "P" * 61, "type": "incident"}))
    with pytest.raises(MalformedEvent, match="X-Webhook-Id"):
        delivery_id({"X-Webhook-Id": "w" * 129})
    assert delivery_id({"x-webhook-id": " w1 "}) == "w1"
    assert delivery_id({}) is None
