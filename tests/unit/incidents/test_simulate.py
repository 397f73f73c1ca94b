from datetime import UTC, datetime

import pytest

from bot.incidents.pagerduty import parse_envelope, verify_v3
from bot.incidents.service import timeline_text
from bot.incidents.simulate import delivery_headers, incident_event_body

AT = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


def body(**overrides):
    args = dict(
        event_id="e1",
        incident_id="PGR0VU2",
        title="user-profile-service down",
        service="user-profile-service",
        occurred_at=AT,
    )
    args.update(overrides)
    return incident_event_body("incident.triggered", **args)


def test_simulated_event_parses_like_a_real_one():
    event = parse_envelope(body())
    assert event.occurred_at == AT
    assert timeline_text(event) == "PagerDuty triggers. user-profile-service down (P1, high urgency)"


def test_simulated_event_is_deterministic():
    assert body() == body()


def test_headers_carry_one_signature_per_secret():
    payload = body()
    headers = delivery_headers(payload, secrets=["a", "b"], webhook_id="w1")
    assert headers["X-Webhook-Id"] == "w1"
    assert verify_v3(payload, headers["X-PagerDuty-Signature"], ["b"])
    assert headers["X-PagerDuty-Signature"].count("v1=") == 2


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        body(occurred_at=datetime(2024, 5, 14))
