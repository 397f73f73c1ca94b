"""What happens when things break: the database is down, processing fails, the process restarts."""

import sqlalchemy as sa

from bot.app import create_app
from bot.incidents.pagerduty import parse_envelope
from bot.incidents.service import IncidentService, Processed
from bot.incidents.simulate import incident_event_body
from bot.settings import load_settings
from bot.store import Store
from bot.wiring import build, build_app


def unreachable_stores(tmp_path):
    return [
        Store.from_url(f"sqlite:///{tmp_path / 'no-such-dir' / 'coroner.db'}"),
        # Nothing listens on port 1: connection refused, no PostgreSQL needed.
        Store.from_url("postgresql+psycopg://postgres@127.0.0.1:1/coroner"),
    ]


def test_database_down_is_503_so_pagerduty_retries(make_client, tmp_path, pagerduty):
    for store in unreachable_stores(tmp_path):
        client = make_client(store)
        response = pagerduty.post(client, pagerduty.body())
        assert response.status_code == 503, store.url
        assert response.headers["Retry-After"] == "30"
        assert response.json() == {"error": "temporarily unavailable"}  # no URL, no driver message
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "127.0.0.1" not in ready.text and "no-such-dir" not in ready.text
        assert client.get("/healthz").status_code == 200  # the process itself is fine


def test_database_lost_after_start_is_503(make_client, postgres_url, pagerduty):
    store = Store.from_url(postgres_url)
    store.upgrade()
    client = make_client(store)
    assert pagerduty.post(client, pagerduty.body()).status_code == 202
    admin = sa.create_engine(sa.make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{sa.make_url(postgres_url).database}" WITH (FORCE)'))
    admin.dispose()
    assert pagerduty.post(client, pagerduty.body()).status_code == 503
    assert client.get("/readyz").status_code == 503


def test_bad_signature_is_401_even_when_the_database_is_down(make_client, tmp_path, pagerduty):
    client = make_client(unreachable_stores(tmp_path)[0])
    assert pagerduty.post(client, pagerduty.body(), secret="attacker").status_code == 401


class FlakyIncidentService(IncidentService):
    """Processing breaks the first `failures` times, as a bug or a bad deploy would."""

    def __init__(self, store, *, failures, clock=None):
        super().__init__(store, clock=clock)
        self.failures = failures

    def apply(self, uow, event):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("processing bug")
        super().apply(uow, event)


def test_failed_processing_keeps_the_raw_event_for_reprocessing(store, clock, pagerduty, serve_app):
    flaky = FlakyIncidentService(store, failures=1, clock=clock)
    client = serve_app(
        create_app(
            store=store,
            webhook_secrets=[pagerduty.new_secret],
            clock=clock,
            pending_sweep_seconds=None,
            incident_service=flaky,
        ),
        store,
    )
    body = pagerduty.body(event_id="e-1")
    assert pagerduty.post(client, body).status_code == 202  # stored: PagerDuty must not resend it
    assert incidents(store) == []
    with store.unit_of_work() as uow:
        [pending] = uow.events.pending()
    assert pending.attempts == 1 and pending.last_error == "RuntimeError: processing bug"
    # A retry of the delivery is a duplicate; the stored event is what gets reprocessed.
    assert pagerduty.post(client, body).json() == {"status": "duplicate"}
    assert flaky.process_pending()[Processed.DONE] == 1
    [incident] = incidents(store)
    with store.unit_of_work() as uow:
        assert len(uow.timeline.list(incident.id)) == 1
        assert uow.events.pending() == []
        assert len(uow.jobs.list(kind="diagnose_incident")) == 1
    assert flaky.process_pending()[Processed.DONE] == 0  # processing is idempotent and done


def test_events_stored_before_a_crash_are_processed_at_startup(store, clock, pagerduty, make_client):
    service = IncidentService(store, clock=clock)
    for event_type in ("incident.triggered", "incident.resolved"):
        body = pagerduty.body(event_type)
        service.record(event=parse_envelope(body), body=body, headers=pagerduty.headers(body))
    assert incidents(store) == []  # the process "died" before processing
    client = make_client(store)  # startup sweep
    assert client.get("/healthz").status_code == 200
    [incident] = incidents(store)
    assert incident.status == "resolved"


def test_an_event_that_keeps_failing_is_left_for_a_person(store, clock):
    service = IncidentService(store, clock=clock)
    with store.unit_of_work() as uow:
        # A body an older, more lenient release accepted: it no longer parses.
        uow.events.add(
            source="pagerduty",
            delivery_id="w",
            event_id="e",
            event_type="incident.triggered",
            headers={},
            body=b'{"event": {}}',
            received_at=clock.now(),
        )
        uow.commit()
    for _ in range(10):
        service.process_pending()
    with store.unit_of_work() as uow:
        [stuck] = uow.events.pending()
    assert stuck.attempts == 5
    assert stuck.last_error.startswith("MalformedEvent")


def incidents(store):
    with store.unit_of_work() as uow:
        return uow.incidents.list()


def test_the_app_built_from_settings_serves_signed_webhooks(tmp_path, pagerduty, serve_app):
    url = f"sqlite:///{tmp_path / 'served.db'}"
    settings = load_settings(database_url=url, pagerduty_webhook_secrets="whsec-old, whsec-new")
    Store.from_url(url).upgrade()
    client = serve_app(build_app(build(settings)))
    assert pagerduty.post(client, pagerduty.body(), secret="whsec-old").status_code == 202
    assert pagerduty.post(client, pagerduty.body(), secret="nope").status_code == 401
    assert client.get("/readyz").status_code == 200


def test_sweep_is_not_starved_by_events_that_keep_failing(store, clock):
    service = IncidentService(store, clock=clock)
    with store.unit_of_work() as uow:
        for n in range(3):
            uow.events.add(
                source="pagerduty",
                delivery_id=f"bad-{n}",
                event_id=f"bad-{n}",
                event_type="incident.triggered",
                headers={},
                body=b'{"event": {}}',
                received_at=clock.now(),
            )
        uow.commit()
    for _ in range(5):
        service.process_pending(limit=2)
    body = incident_event_body(
        "incident.triggered", event_id="good", incident_id="PGOOD", title="t", service="s", occurred_at=clock.now()
    )
    service.record(event=parse_envelope(body), body=body, headers={})
    assert service.process_pending(limit=2)[Processed.DONE] == 1  # the exhausted ones no longer fill the batch
    assert "pd-PGOOD" in [incident.id for incident in incidents(store)]


def test_cli_lists_and_reprocesses_pending_events(database_url, clock):
    from click.testing import CliRunner

    from bot.cli import main

    store = Store.from_url(database_url, clock=clock)
    body = incident_event_body(
        "incident.triggered", event_id="e1", incident_id="PCLI", title="t", service="s", occurred_at=clock.now()
    )
    IncidentService(store, clock=clock).record(event=parse_envelope(body), body=body, headers={})
    store.dispose()
    runner = CliRunner()
    listed = runner.invoke(main, ["db", "pending", "--url", database_url])
    assert listed.exit_code == 0 and "incident.triggered" in listed.output and "1 pending" in listed.output
    done = runner.invoke(main, ["db", "reprocess", "--url", database_url])
    assert done.exit_code == 0, done.output
    assert "processed 1; 0 failed" in done.output
