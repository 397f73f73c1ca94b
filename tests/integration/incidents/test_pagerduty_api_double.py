"""The PagerDuty REST double holds to PagerDuty's documented wire format (REFERENCE.md §1.5, §5.1), so the
client tests against it mean something. Raw httpx here: no Coroner code in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.doubles.pagerduty_api import ACCEPT, API_TOKEN, BASE_TIME, PagerDutyApiDouble, notify_entry

HEADERS = {"Authorization": f"Token token={API_TOKEN}", "Accept": ACCEPT}


@pytest.fixture
def pd(pagerduty_api: PagerDutyApiDouble) -> PagerDutyApiDouble:
    entries = [notify_entry(f"R{i:03d}", at=BASE_TIME + timedelta(seconds=i), user="Alice") for i in range(130)]
    pagerduty_api.add_incident("PGR0VU2", log_entries=entries)
    return pagerduty_api


def get(pd: PagerDutyApiDouble, path: str, headers: dict[str, str] = HEADERS, **params: str) -> httpx.Response:
    return httpx.get(pd.url + path, headers=headers, params=params)


def test_classic_pagination_defaults_caps_and_reports_more(pd):
    first = get(pd, "/incidents/PGR0VU2/log_entries").json()
    assert (len(first["log_entries"]), first["limit"], first["offset"], first["more"], first["total"]) == (
        25, 25, 0, True, None
    )
    capped = get(pd, "/incidents/PGR0VU2/log_entries", limit="500", offset="100", total="true").json()
    assert (len(capped["log_entries"]), capped["limit"], capped["more"], capped["total"]) == (30, 100, False, 130)


def test_offset_plus_limit_past_10000_is_a_400(pd):
    answer = get(pd, "/incidents/PGR0VU2/log_entries", limit="100", offset="9901")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Invalid Input Provided"


def test_a_bad_token_gets_pagerdutys_error_shape(pd):
    answer = get(pd, "/incidents/PGR0VU2", headers={**HEADERS, "Authorization": "Bearer " + API_TOKEN})
    assert answer.status_code == 401
    assert answer.json() == {"error": {"message": "Authentication failed", "code": 2006}}


def test_the_version_header_is_required(pd):
    answer = get(pd, "/incidents/PGR0VU2", headers={"Authorization": HEADERS["Authorization"]})
    assert answer.status_code == 406


def test_writes_need_a_from_header(pd):
    answer = httpx.post(pd.url + "/incidents/PGR0VU2/notes", headers=HEADERS, json={"note": {"content": "x"}})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 2016
    assert pd.incidents["PGR0VU2"].notes == []


def test_a_blank_note_is_refused(pd):
    answer = httpx.post(pd.url + "/incidents/PGR0VU2/notes", headers={**HEADERS, "From": "alice@example.com"},
                        json={"note": {"content": "  "}})
    assert answer.status_code == 400
    assert answer.json()["error"]["errors"] == ["Content can't be blank"]


def test_rate_limited_answers_carry_pagerdutys_headers(pd):
    pd.rate_limit_next(1, reset="20")
    answer = get(pd, "/incidents/PGR0VU2")
    assert answer.status_code == 429
    assert answer.headers["ratelimit-limit"] == "960"
    assert answer.headers["ratelimit-remaining"] == "0"
    assert answer.headers["ratelimit-reset"] == "20"
    assert answer.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    assert get(pd, "/incidents/PGR0VU2").status_code == 200


def test_a_stopped_double_refuses_connections(pd):
    pd.stop()
    with pytest.raises(httpx.ConnectError):
        get(pd, "/incidents/PGR0VU2")


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_a_note_and_its_log_entry_are_stamped_with_the_doubles_clock_at_creation(pd):
    """As PagerDuty stamps `created_at` with its server's time: a note added later is stamped later."""
    pd.clock = _Clock(datetime(2024, 7, 9, 9, 48, 2, tzinfo=UTC))
    writer = {**HEADERS, "From": "coroner@example.com"}
    first = httpx.post(pd.url + "/incidents/PGR0VU2/notes", headers=writer, json={"note": {"content": "one"}})
    pd.clock.at += timedelta(minutes=3)
    httpx.put(pd.url + "/incidents/PGR0VU2", headers=writer,
              json={"incident": {"type": "incident_reference", "status": "resolved"}})
    assert first.json()["note"]["created_at"] == "2024-07-09T09:48:02Z"
    entries = pd.incidents["PGR0VU2"].log_entries[-2:]
    assert [(e["type"], e["created_at"]) for e in entries] == [
        ("annotate_log_entry", "2024-07-09T09:48:02Z"), ("resolve_log_entry", "2024-07-09T09:51:02Z")]


def test_without_a_clock_the_double_stamps_the_wall_clock(pd):
    before = datetime.now(UTC).replace(microsecond=0)
    note = httpx.post(pd.url + "/incidents/PGR0VU2/notes", headers={**HEADERS, "From": "coroner@example.com"},
                      json={"note": {"content": "now"}}).json()["note"]
    assert before <= datetime.fromisoformat(note["created_at"].replace("Z", "+00:00")) <= datetime.now(UTC)
