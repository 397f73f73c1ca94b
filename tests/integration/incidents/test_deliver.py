from datetime import UTC, datetime

from bot.app import create_app
from bot.incidents.simulate import deliver, incident_event_body

AT = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


def trigger(event_id="evt-1"):
    return incident_event_body(
        "incident.triggered",
        event_id=event_id,
        incident_id="PGR0VU2",
        title="user-profile-service down",
        service="user-profile-service",
        occurred_at=AT,
    )


def test_in_process_delivery_goes_through_the_real_intake(store):
    app = create_app(store=store, webhook_secrets=["s1"], pending_sweep_seconds=None)
    response = deliver(app, trigger(), secrets=["s1"])
    assert response.status_code == 202
    assert deliver(app, trigger(), secrets=["s1"]).json() == {"status": "duplicate"}  # a replayed demo
    assert deliver(app, trigger("evt-2"), secrets=["wrong"]).status_code == 401
    [incident] = store.list_incidents()
    assert [e.text for e in store.timeline(incident.id)] == [
        "PagerDuty triggers. user-profile-service down (P1, high urgency)"
    ]
