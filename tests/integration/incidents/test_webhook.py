import json

import sqlalchemy as sa

from bot.incidents.pagerduty import sign_v3
from bot.jobs.diagnose_incident import DiagnoseIncident
from bot.jobs.draft_postmortem import DraftPostmortem
from bot.store import JobStatus, Store


def count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_signed_delivery_is_accepted_stored_verbatim_and_processed(client, store, pagerduty):
    body = pagerduty.body()
    response = pagerduty.post(client, body, webhook_id="wh-1")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted"}
    with store.unit_of_work() as uow:
        [event_id] = [row.id for row in uow.session.execute(sa.text("SELECT id FROM inbound_events"))]
        stored = uow.events.get(event_id)
    assert stored.body == body
    assert stored.delivery_id == "wh-1"
    assert stored.headers["X-Webhook-Subscription"] == "PSUB123"
    assert "X-PagerDuty-Signature" not in stored.headers
    assert stored.processed_at is not None


def test_rotated_secrets_both_verify(client, store, pagerduty):
    old = pagerduty.body()
    assert pagerduty.post(client, old, secret=pagerduty.old_secret).status_code == 202
    new = pagerduty.body()
    assert pagerduty.post(client, new, secret=pagerduty.new_secret).status_code == 202
    # During a rotation PagerDuty sends one value per secret in a single header.
    both = pagerduty.body()
    headers = pagerduty.headers(both)
    headers["X-PagerDuty-Signature"] = f"{sign_v3(both, 'whsec-retired')}, {sign_v3(both, pagerduty.new_secret)}"
    assert client.post("/pagerduty/webhook", content=both, headers=headers).status_code == 202
    assert count(store, "inbound_events") == 3


def test_bad_or_missing_signature_is_401_and_stores_nothing(client, store, pagerduty):
    body = pagerduty.body()
    forged = pagerduty.post(client, body, secret="attacker")
    assert forged.status_code == 401
    assert forged.json() == {"error": "invalid signature"}  # nothing about which secret or why
    headers = pagerduty.headers(body)
    del headers["X-PagerDuty-Signature"]
    assert client.post("/pagerduty/webhook", content=body, headers=headers).status_code == 401
    tampered = body.replace(b"P1", b"P5")
    headers = pagerduty.headers(body)
    assert client.post("/pagerduty/webhook", content=tampered, headers=headers).status_code == 401
    assert count(store, "inbound_events") == 0


def test_malformed_json_or_envelope_is_400_and_stores_nothing(client, store, pagerduty):
    for body in (b"{not json", b"[]", b'{"messages":[{"event":"incident.trigger"}]}', b'{"event":{"id":"x"}}'):
        response = pagerduty.post(client, body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    assert count(store, "inbound_events") == 0


def test_duplicate_delivery_is_202_and_stores_one_row(client, store, pagerduty):
    body = pagerduty.body(event_id="evt-dup")
    assert pagerduty.post(client, body, webhook_id="wh-1").json() == {"status": "accepted"}
    retry = pagerduty.post(client, body, webhook_id="wh-1")
    assert retry.status_code == 202 and retry.json() == {"status": "duplicate"}
    # The same event delivered again under another webhook id is still the same event.
    redelivered = pagerduty.post(client, body, webhook_id="wh-2")
    assert redelivered.status_code == 202 and redelivered.json() == {"status": "duplicate"}
    assert count(store, "inbound_events") == 1
    assert count(store, "timeline_entries") == 1
    assert count(store, "jobs") == 2  # the diagnosis and the Slack post, once each


def test_unknown_event_type_is_stored_and_ignored(client, store, pagerduty):
    body = pagerduty.body("incident.workflow.completed", data={"type": "incident_workflow_instance", "id": "W1"})
    response = pagerduty.post(client, body)
    assert response.status_code == 202
    assert count(store, "inbound_events") == 1
    assert count(store, "incidents") == 0
    assert count(store, "jobs") == 0
    with store.unit_of_work() as uow:
        assert uow.events.pending() == []  # processed: nothing to do


def test_ping_is_accepted(client, store, pagerduty):
    body = json.dumps(
        {
            "event": {
                "id": "ping-1",
                "event_type": "pagey.ping",
                "occurred_at": "2024-05-14T03:00:00Z",
                "agent": None,
                "client": None,
                "data": {"message": "Hello from your friend Pagey!"},
            }
        }
    ).encode()
    assert pagerduty.post(client, body).status_code == 202


def test_triggered_acknowledged_resolved_lifecycle(client, store, pagerduty):
    deliveries = [
        pagerduty.body("incident.triggered", event_id="e-trig", occurred_at="2024-05-14T03:02:11Z"),
        pagerduty.body(
            "incident.acknowledged",
            event_id="e-ack",
            occurred_at="2024-05-14T03:05:40Z",
            agent={"id": "PU1", "type": "user_reference", "summary": "Dana (on call)"},
        ),
        pagerduty.body(
            "incident.resolved",
            event_id="e-res",
            occurred_at="2024-05-14T05:32:00Z",
            agent={"id": "PU1", "type": "user_reference", "summary": "Dana (on call)"},
        ),
    ]
    for body in deliveries:
        assert pagerduty.post(client, body).status_code == 202
    # PagerDuty retries everything (new webhook ids), and re-sends a trigger: nothing changes.
    for body in deliveries:
        assert pagerduty.post(client, body).json() == {"status": "duplicate"}

    with store.unit_of_work() as uow:
        [incident] = uow.incidents.list()
        timeline = uow.timeline.list(incident.id)
    assert incident.id == "pd-PGR0VU2" and incident.external_id == "PGR0VU2"
    assert incident.status == "resolved"
    assert incident.resolved_at.isoformat() == "2024-05-14T05:32:00+00:00"
    assert incident.service == "user-profile-service"
    assert [(e.at.strftime("%H:%M:%S"), e.text) for e in timeline] == [
        ("03:02:11", "PagerDuty triggers. user-profile-service: readiness probes failing (P1, high urgency)"),
        ("03:05:40", "PagerDuty acknowledged. user-profile-service: readiness probes failing [by Dana (on call)]"),
        ("05:32:00", "PagerDuty resolves. user-profile-service: readiness probes failing [by Dana (on call)]"),
    ]
    with store.unit_of_work() as uow:
        [job] = uow.jobs.list(kind="diagnose_incident")
        posts = uow.jobs.list(kind="post_to_slack")
        [draft] = uow.jobs.list(kind="draft_postmortem")
    assert job.status is JobStatus.QUEUED
    assert DiagnoseIncident.from_payload(job.payload) == DiagnoseIncident(
        incident_id="pd-PGR0VU2", service="user-profile-service", pagerduty_service_id="PF9KMXH",
        pagerduty_incident_id="PGR0VU2", generation=0)
    # One Slack post per event, each after its fact is stored; the resolve queues the draft.
    assert len(posts) == 3
    assert DraftPostmortem.from_payload(draft.payload) == DraftPostmortem(incident_id="pd-PGR0VU2", resolution=0)


def test_a_second_trigger_adds_no_diagnosis_but_a_reopening_does(client, store, pagerduty):
    def diagnoses() -> list[DiagnoseIncident]:
        with store.unit_of_work() as uow:
            return [DiagnoseIncident.from_payload(j.payload) for j in uow.jobs.list(kind="diagnose_incident")]

    assert pagerduty.post(client, pagerduty.body("incident.triggered")).status_code == 202
    assert pagerduty.post(client, pagerduty.body("incident.triggered")).status_code == 202
    assert [d.generation for d in diagnoses()] == [0]
    # The trigger's diagnosis runs; a reopening later wants a fresh one.
    with store.unit_of_work() as uow:
        job = uow.jobs.claim(worker="w", kinds=["diagnose_incident"])
        uow.jobs.complete(job.id, worker="w")
        uow.commit()
    assert pagerduty.post(client, pagerduty.body("incident.reopened")).status_code == 202
    assert [d.generation for d in diagnoses()] == [0, 1]
    assert count(store, "incidents") == 1


def test_late_processing_of_an_older_event_does_not_reopen(client, store, pagerduty):
    assert (
        pagerduty.post(client, pagerduty.body("incident.resolved", occurred_at="2024-05-14T05:00:00Z")).status_code
        == 202
    )
    assert (
        pagerduty.post(client, pagerduty.body("incident.triggered", occurred_at="2024-05-14T03:00:00Z")).status_code
        == 202
    )
    with store.unit_of_work() as uow:
        [incident] = uow.incidents.list()
        timeline = uow.timeline.list(incident.id)
    assert incident.status == "resolved"
    assert [e.text.split(".")[0] for e in timeline] == ["PagerDuty triggers", "PagerDuty resolves"]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_oversized_bodies_are_413_declared_or_streamed(client, store, pagerduty):
    big = b"x" * (1024 * 1024 + 1)
    assert pagerduty.post(client, big).status_code == 413

    def chunked():
        for _ in range(17):
            yield b"y" * 65536

    headers = pagerduty.headers(b"")
    response = client.post("/pagerduty/webhook", content=chunked(), headers=headers)
    assert response.status_code == 413
    assert count(store, "inbound_events") == 0
