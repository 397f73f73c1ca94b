"""The PagerDuty REST client over real HTTP against the local double (tests/doubles/pagerduty_api.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.incidents.pagerduty_api import (
    ACCEPT,
    MAX_RECORDS,
    NOTE_CONTENT_LIMIT,
    TRUNCATED_MARKER,
    PagerDutyApiError,
    PagerDutyClient,
    PagerDutyError,
    PagerDutyUnavailable,
    build_client,
    enrich_timeline,
)
from bot.settings import load_settings
from tests.doubles.pagerduty_api import (
    API_TOKEN,
    BASE_TIME,
    READ_ONLY_TOKEN,
    PagerDutyApiDouble,
    incident_story,
    log_entry,
    notify_entry,
)
from tests.integration.conftest import FakeClock

INCIDENT = "PGR0VU2"
NOTES = f"/incidents/{INCIDENT}/notes"
LOG = f"/incidents/{INCIDENT}/log_entries"


class Sleeps:
    """Records the waits the client asks for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Calls:
    """The `on_call(method, outcome)` hook, recorded."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, method: str, outcome: str) -> None:
        self.seen.append((method, outcome))


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def client(pagerduty_api: PagerDutyApiDouble, sleeps: Sleeps, calls: Calls):
    pagerduty_api.add_incident(INCIDENT, log_entries=incident_story())
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN, timeout=2, sleep=sleeps, on_call=calls) as c:
        yield c


# -- write-back ---------------------------------------------------------------------------------------

def test_add_note_sends_pagerdutys_headers_and_body_and_returns_the_note_id(client, pagerduty_api, calls):
    note_id = client.add_note(INCIDENT, content="Diagnosis: node disk full on node-3", from_email="coroner@example.com")

    [request] = pagerduty_api.wait_for("POST", NOTES)
    assert request.header("Authorization") == f"Token token={API_TOKEN}"
    assert request.header("Accept") == ACCEPT
    assert request.header("Content-Type") == "application/json"
    assert request.header("From") == "coroner@example.com"
    assert request.body == {"note": {"content": "Diagnosis: node disk full on node-3"}}
    stored = pagerduty_api.incidents[INCIDENT].notes
    assert [n["id"] for n in stored] == [note_id]
    assert stored[0]["user"]["summary"] == "Coroner"
    assert calls.seen == [("add_note", "ok")]


def test_an_oversized_note_is_cut_with_a_marker(client, pagerduty_api):
    client.add_note(INCIDENT, content="x" * (NOTE_CONTENT_LIMIT * 2), from_email="coroner@example.com")

    [request] = pagerduty_api.wait_for("POST", NOTES)
    sent = request.body["note"]["content"]
    assert len(sent) == NOTE_CONTENT_LIMIT
    assert sent.endswith(TRUNCATED_MARKER)
    assert sent.startswith("x" * 100)


def test_a_note_without_from_is_refused_with_pagerdutys_message(client, pagerduty_api):
    with pytest.raises(PagerDutyApiError) as err:
        client.add_note(INCIDENT, content="diagnosis", from_email="")

    message = str(err.value)
    assert message.startswith(f"add_note {INCIDENT}: PagerDuty answered 400: ")
    assert '"From" header' in message
    assert err.value.status == 400 and err.value.code == 2016
    assert pagerduty_api.incidents[INCIDENT].notes == []


def test_a_note_from_someone_pagerduty_does_not_know_is_refused(client, pagerduty_api):
    with pytest.raises(PagerDutyApiError, match="Requester User Not Found"):
        client.add_note(INCIDENT, content="diagnosis", from_email="mallory@example.com")


@pytest.mark.parametrize("status", ["acknowledged", "resolved"])
def test_set_status_puts_an_incident_reference_as_the_clicking_user(client, pagerduty_api, status):
    client.set_status(INCIDENT, status=status, from_email="alice@example.com")

    [request] = pagerduty_api.wait_for("PUT", f"/incidents/{INCIDENT}")
    assert request.body == {"incident": {"type": "incident_reference", "status": status}}
    assert request.header("From") == "alice@example.com"
    assert pagerduty_api.incidents[INCIDENT].status == status
    assert pagerduty_api.incidents[INCIDENT].status_changes == [(status, "alice@example.com")]


def test_set_status_refuses_a_status_the_buttons_do_not_send(client, pagerduty_api):
    with pytest.raises(PagerDutyError, match="status must be one of acknowledged, resolved"):
        client.set_status(INCIDENT, status="triggered", from_email="alice@example.com")  # type: ignore[arg-type]
    assert pagerduty_api.calls("PUT") == []


def test_an_implausible_incident_id_never_reaches_the_wire(client, pagerduty_api):
    with pytest.raises(PagerDutyError, match="not a PagerDuty incident id"):
        client.add_note("../users/PXYZ", content="x", from_email="coroner@example.com")
    assert pagerduty_api.calls() == []


# -- refusals -----------------------------------------------------------------------------------------

def test_a_wrong_token_is_a_one_line_401_that_does_not_show_the_token(pagerduty_api, caplog):
    pagerduty_api.add_incident(INCIDENT)
    secret = "u+wrong-token-SECRET"
    caplog.set_level(logging.DEBUG)
    with PagerDutyClient(base_url=pagerduty_api.url, token=secret, sleep=Sleeps()) as client:
        with pytest.raises(PagerDutyApiError) as err:
            client.log_entries(INCIDENT)
        assert secret not in repr(client)

    assert str(err.value) == f"log_entries {INCIDENT}: PagerDuty answered 401: Authentication failed"
    assert err.value.code == 2006
    assert secret not in caplog.text
    assert len(pagerduty_api.calls()) == 1  # a refusal is not retried


def test_a_read_only_key_may_read_but_not_write(pagerduty_api):
    pagerduty_api.add_incident(INCIDENT, log_entries=incident_story())
    with PagerDutyClient(base_url=pagerduty_api.url, token=READ_ONLY_TOKEN, sleep=Sleeps()) as client:
        assert len(client.log_entries(INCIDENT)) == 7
        with pytest.raises(PagerDutyApiError) as err:
            client.set_status(INCIDENT, status="resolved", from_email="alice@example.com")

    assert str(err.value) == f"set_status {INCIDENT}: PagerDuty answered 403: Access Denied"
    assert pagerduty_api.incidents[INCIDENT].status == "triggered"


def test_an_unknown_incident_is_a_404_naming_the_call(client, pagerduty_api):
    with pytest.raises(PagerDutyApiError) as err:
        client.set_status("PNOSUCH", status="acknowledged", from_email="alice@example.com")
    assert str(err.value) == "set_status PNOSUCH: PagerDuty answered 404: Not Found"
    assert err.value.status == 404


# -- rate limits, outages -----------------------------------------------------------------------------

def test_a_429_waits_what_ratelimit_reset_says_then_succeeds(client, pagerduty_api, sleeps, calls):
    pagerduty_api.rate_limit_next(2, reset="3")

    client.set_status(INCIDENT, status="acknowledged", from_email="alice@example.com")

    assert sleeps.waits == [3.0, 3.0]
    assert len(pagerduty_api.calls("PUT")) == 3
    assert pagerduty_api.incidents[INCIDENT].status == "acknowledged"
    assert calls.seen == [("set_status", "rate_limited"), ("set_status", "rate_limited"), ("set_status", "ok")]


def test_retry_after_as_an_http_date_is_honoured(pagerduty_api, sleeps):
    pagerduty_api.add_incident(INCIDENT)
    clock = FakeClock(datetime(2024, 5, 14, 3, 0, 0, tzinfo=UTC))
    pagerduty_api.rate_limit_next(1, reset=None, retry_after="Tue, 14 May 2024 03:00:04 GMT")
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN, sleep=sleeps, clock=clock) as client:
        client.add_note(INCIDENT, content="diagnosis", from_email="coroner@example.com")
    assert sleeps.waits == [4.0]
    assert len(pagerduty_api.incidents[INCIDENT].notes) == 1


def test_a_429_without_headers_backs_off_on_its_own(client, pagerduty_api, sleeps):
    pagerduty_api.rate_limit_next(2, reset=None)
    client.log_entries(INCIDENT)
    assert sleeps.waits == [0.5, 1.0]


def test_rate_limiting_that_does_not_end_gives_up_after_bounded_retries(client, pagerduty_api, sleeps):
    pagerduty_api.rate_limit_next(100, reset="2")

    with pytest.raises(PagerDutyUnavailable) as err:
        client.add_note(INCIDENT, content="diagnosis", from_email="coroner@example.com")

    assert str(err.value) == (
        f"add_note {INCIDENT}: rate limited by PagerDuty (429) after 3 attempt(s); PagerDuty asks to wait 2s"
    )
    assert err.value.retry_after == 2.0
    assert sleeps.waits == [2.0, 2.0]
    assert len(pagerduty_api.calls("POST")) == 3


def test_a_wait_longer_than_the_cap_is_not_slept_through(client, pagerduty_api, sleeps):
    pagerduty_api.rate_limit_next(1, reset="45")

    with pytest.raises(PagerDutyUnavailable, match="PagerDuty asks to wait 45s") as err:
        client.set_status(INCIDENT, status="resolved", from_email="alice@example.com")

    assert err.value.retry_after == 45.0
    assert sleeps.waits == []
    assert len(pagerduty_api.calls("PUT")) == 1


def test_a_passing_5xx_is_retried(client, pagerduty_api, sleeps, calls):
    pagerduty_api.fail_next(2, status=503)

    note_id = client.add_note(INCIDENT, content="diagnosis", from_email="coroner@example.com")

    assert [n["id"] for n in pagerduty_api.incidents[INCIDENT].notes] == [note_id]
    assert sleeps.waits == [0.5, 1.0]
    assert [outcome for _, outcome in calls.seen] == ["server_error", "server_error", "ok"]


def test_a_lasting_5xx_is_unavailable_after_a_couple_of_retries(client, pagerduty_api):
    pagerduty_api.fail_next(100, status=500)

    with pytest.raises(PagerDutyUnavailable) as err:
        client.log_entries(INCIDENT)

    assert str(err.value).startswith(f"log_entries {INCIDENT}: PagerDuty answered 500 after 3 attempt(s): ")
    assert "internal error" in str(err.value)
    assert len(pagerduty_api.calls()) == 3


def test_pagerduty_down_is_unavailable(pagerduty_api, sleeps, calls):
    pagerduty_api.add_incident(INCIDENT)
    pagerduty_api.stop()
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN, sleep=sleeps, on_call=calls) as client:
        with pytest.raises(PagerDutyUnavailable, match=r"PagerDuty is unreachable \(ConnectError\) after 3 attempt"):
            client.add_note(INCIDENT, content="diagnosis", from_email="coroner@example.com")
    # A refused connection never carried the note: resending it cannot write it twice.
    assert calls.seen == [("add_note", "unreachable")] * 3


def test_a_note_that_timed_out_after_it_was_sent_is_not_sent_again(pagerduty_api, sleeps):
    pagerduty_api.add_incident(INCIDENT)
    pagerduty_api.delay_next(1, 3.0)
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN, timeout=1.0, sleep=sleeps) as client:
        with pytest.raises(PagerDutyUnavailable, match=r"ReadTimeout\) after 1 attempt"):
            client.add_note(INCIDENT, content="diagnosis", from_email="coroner@example.com")
    assert len(pagerduty_api.calls("POST")) == 1
    assert len(pagerduty_api.incidents[INCIDENT].notes) == 1  # PagerDuty did store it: once


def test_a_read_that_timed_out_is_retried(pagerduty_api, sleeps):
    pagerduty_api.add_incident(INCIDENT, log_entries=incident_story())
    pagerduty_api.delay_next(1, 3.0)
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN, timeout=1.0, sleep=sleeps) as client:
        assert len(client.log_entries(INCIDENT)) == 7
    assert len(pagerduty_api.calls("GET")) == 2


# -- log entries --------------------------------------------------------------------------------------

def test_log_entries_read_every_page_as_an_overview(pagerduty_api):
    entries = [
        notify_entry(f"R{i:05d}", at=BASE_TIME + timedelta(seconds=i), user="Alice") for i in range(230)
    ]
    pagerduty_api.add_incident(INCIDENT, log_entries=entries)
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN) as client:
        read = client.log_entries(INCIDENT)

    assert [e.id for e in read] == [e["id"] for e in entries]
    requests = pagerduty_api.calls("GET", LOG)
    assert [r.query["offset"] for r in requests] == [["0"], ["100"], ["200"]]
    assert all(r.query["limit"] == ["100"] and r.query["is_overview"] == ["true"] for r in requests)


def test_log_entries_since_asks_pagerduty_for_the_later_ones_only(client, pagerduty_api):
    read = client.log_entries(INCIDENT, since=BASE_TIME + timedelta(minutes=15, seconds=1))

    [request] = pagerduty_api.calls("GET", LOG)
    assert request.query["since"] == ["2024-05-14T03:17:12Z"]
    assert [e.type for e in read] == ["notify_log_entry", "acknowledge_log_entry", "resolve_log_entry"]


def test_log_entries_stop_at_pagerdutys_pagination_ceiling(pagerduty_api, caplog):
    # Bare entries (id, type, created_at): the parser tolerates the rest missing, and 101 pages stay quick.
    entries = [
        {"id": f"R{i:06d}", "type": "notify_log_entry", "created_at": "2024-05-14T03:02:11Z"}
        for i in range(MAX_RECORDS + 50)
    ]
    pagerduty_api.add_incident(INCIDENT, log_entries=entries)
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN) as client:
        read = client.log_entries(INCIDENT)

    assert len(read) == MAX_RECORDS
    assert all(r.status == 200 for r in pagerduty_api.calls())  # never asked past offset + limit = 10000
    assert "past the pagination ceiling" in caplog.text


def test_malformed_log_entries_are_skipped_and_unknown_types_kept(pagerduty_api, caplog):
    pagerduty_api.add_incident(
        INCIDENT,
        log_entries=[
            *incident_story()[:2],
            {"id": "RBAD1", "type": "notify_log_entry", "created_at": "yesterday-ish"},
            {"type": "acknowledge_log_entry", "created_at": "2024-05-14T03:10:00Z"},
            "not an object",
            log_entry("RNEW1", "incident_workflow_started_log_entry", at=BASE_TIME, summary="Workflow started"),
        ],
    )
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN) as client:
        read = client.log_entries(INCIDENT)

    assert [e.id for e in read] == ["R01", "R02", "RNEW1"]
    assert read[2].type == "incident_workflow_started_log_entry"
    assert caplog.text.count("skipped a malformed PagerDuty log entry") == 3


def test_enrichment_turns_the_log_into_timeline_lines(client):
    enrichment = enrich_timeline(client, INCIDENT)

    assert enrichment.missing is None
    assert [e.text for e in enrichment.entries] == [
        "PagerDuty triggered via api (user-profile-service)",
        "PagerDuty notified Alice by sms",
        "PagerDuty notified Alice by push",
        "PagerDuty escalated to level 2 (Bob)",
        "PagerDuty notified Bob by phone",
        "Bob acknowledged",
        "Bob resolved",
    ]
    assert enrichment.entries[0].key == "pagerduty-log:R01"
    assert enrichment.entries[0].at == BASE_TIME


def test_what_coroner_writes_comes_back_in_the_log(client, pagerduty_api):
    client.add_note(INCIDENT, content="Diagnosis: disk full", from_email="coroner@example.com")
    client.set_status(INCIDENT, status="acknowledged", from_email="alice@example.com")

    texts = [e.text for e in enrich_timeline(client, INCIDENT).entries]
    assert texts[-2:] == ["Coroner added a note: Diagnosis: disk full", "Alice acknowledged"]


def test_enrichment_states_why_the_log_is_missing(pagerduty_api):
    pagerduty_api.add_incident(INCIDENT)
    pagerduty_api.fail_next(100)
    with PagerDutyClient(base_url=pagerduty_api.url, token=API_TOKEN, sleep=Sleeps()) as client:
        enrichment = enrich_timeline(client, INCIDENT)

    assert enrichment.entries == ()
    assert enrichment.missing is not None
    assert enrichment.missing.startswith(f"PagerDuty log not read: log_entries {INCIDENT}: PagerDuty answered 500")


def test_enrichment_without_a_token_says_so():
    enrichment = enrich_timeline(None, INCIDENT)
    assert enrichment.entries == ()
    assert enrichment.missing == "PagerDuty log not read: CORONER_PAGERDUTY_API_TOKEN is not set"


# -- settings -----------------------------------------------------------------------------------------

def test_the_settings_build_a_client_against_the_configured_url(pagerduty_api, monkeypatch):
    pagerduty_api.add_incident(INCIDENT, log_entries=incident_story())
    monkeypatch.setenv("CORONER_PAGERDUTY_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("CORONER_PAGERDUTY_API_URL", pagerduty_api.url)
    settings = load_settings()
    assert API_TOKEN not in repr(settings)

    client = build_client(settings)
    assert client is not None
    with client:
        assert len(client.log_entries(INCIDENT)) == 7


def test_no_token_means_no_client(monkeypatch):
    monkeypatch.delenv("CORONER_PAGERDUTY_API_TOKEN", raising=False)
    settings = load_settings()
    assert settings.pagerduty_api_url == "https://api.pagerduty.com"
    assert build_client(settings) is None
