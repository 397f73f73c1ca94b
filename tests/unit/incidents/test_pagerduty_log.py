"""PagerDuty log entries: lenient parsing and the timeline's wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.incidents.pagerduty_api import (
    NOTE_CONTENT_LIMIT,
    TRUNCATED_MARKER,
    log_entry_text,
    log_entry_timeline,
    parse_log_entries,
    parse_log_entry,
    truncate_note,
)
from tests.doubles.pagerduty_api import (
    BASE_TIME,
    acknowledge_entry,
    escalate_entry,
    log_entry,
    notify_entry,
    resolve_entry,
    trigger_entry,
)


def text_of(raw: dict) -> str:
    entry = parse_log_entry(raw)
    assert entry is not None
    return log_entry_text(entry)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (trigger_entry("R1", at=BASE_TIME, service="checkout"), "PagerDuty triggered via api (checkout)"),
        (notify_entry("R2", at=BASE_TIME, user="Alice", method="sms"), "PagerDuty notified Alice by sms"),
        (notify_entry("R3", at=BASE_TIME, user="Alice", method="push"), "PagerDuty notified Alice by push"),
        (acknowledge_entry("R4", at=BASE_TIME, user="Alice"), "Alice acknowledged"),
        (escalate_entry("R5", at=BASE_TIME, level=2, assignees=["Bob"]), "PagerDuty escalated to level 2 (Bob)"),
        (escalate_entry("R6", at=BASE_TIME, level=3, assignees=["Bob", "Carol"]),
         "PagerDuty escalated to level 3 (Bob, Carol)"),
        (resolve_entry("R7", at=BASE_TIME, user="Bob"), "Bob resolved"),
        (log_entry("R8", "resolve_log_entry", at=BASE_TIME, service="checkout"), "checkout resolved"),
        (log_entry("R9", "annotate_log_entry", at=BASE_TIME, agent="Bob",
                   channel={"type": "note", "summary": "rolled back\nto r41"}),
         "Bob added a note: rolled back to r41"),
        (log_entry("R10", "unacknowledge_log_entry", at=BASE_TIME, service="checkout", channel={"type": "timeout"}),
         "PagerDuty: the acknowledgement timed out"),
        (log_entry("R11", "assign_log_entry", at=BASE_TIME, agent="Alice", assignees=[{"summary": "Bob"}]),
         "Alice assigned the incident to Bob"),
        (log_entry("R12", "exhaust_escalation_path_log_entry", at=BASE_TIME),
         "PagerDuty reached the end of the escalation policy"),
        # An unknown type is kept, in PagerDuty's own words.
        (log_entry("R13", "incident_workflow_started_log_entry", at=BASE_TIME, summary="Workflow  Page SRE started"),
         "PagerDuty: Workflow Page SRE started"),
    ],
)
def test_each_entry_reads_like_the_incident_report(raw, text):
    assert text_of(raw) == text


def test_escalation_level_comes_from_the_field_when_pagerduty_gives_it():
    raw = log_entry("R1", "escalate_log_entry", at=BASE_TIME, escalation_level=4, summary="Escalated",
                    assignees=[{"summary": "Dana"}])
    assert text_of(raw) == "PagerDuty escalated to level 4 (Dana)"


def test_an_escalation_without_a_level_names_who_it_went_to():
    raw = log_entry("R1", "escalate_log_entry", at=BASE_TIME, agent="Alice", summary="Escalated",
                    assignees=[{"summary": "Dana"}])
    assert text_of(raw) == "Alice escalated to Dana"


def test_missing_fields_are_tolerated():
    entry = parse_log_entry({"id": "R1", "type": "notify_log_entry", "created_at": "2024-05-14T03:02:11Z"})
    assert entry is not None
    assert entry.agent_name is None and entry.user_name is None and entry.notification_method is None
    assert log_entry_text(entry) == "PagerDuty notified someone"
    bare_ack = parse_log_entry({"id": "R2", "type": "acknowledge_log_entry", "created_at": "2024-05-14T03:02:11Z",
                                "agent": None, "channel": None})
    assert bare_ack is not None and log_entry_text(bare_ack) == "PagerDuty acknowledged"


@pytest.mark.parametrize(
    "raw",
    [
        "a string",
        None,
        {"type": "notify_log_entry", "created_at": "2024-05-14T03:02:11Z"},  # no id
        {"id": "R1", "created_at": "2024-05-14T03:02:11Z"},  # no type
        {"id": "R1", "type": "notify_log_entry"},  # no time
        {"id": "R1", "type": "notify_log_entry", "created_at": "14/05/2024"},  # not ISO 8601
        {"id": 7, "type": "notify_log_entry", "created_at": "2024-05-14T03:02:11Z"},  # id not a string
    ],
)
def test_an_entry_without_id_type_or_time_is_malformed(raw):
    assert parse_log_entry(raw) is None


def test_malformed_entries_are_skipped_with_a_log_line(caplog):
    entries = parse_log_entries([{"id": "RX"}, trigger_entry("R1", at=BASE_TIME)], incident_id="PGR0VU2")
    assert [e.id for e in entries] == ["R1"]
    [record] = [r for r in caplog.records if r.getMessage() == "skipped a malformed PagerDuty log entry"]
    assert record.log_entry_id == "RX" and record.incident_id == "PGR0VU2"


def test_times_keep_their_offset_and_naive_ones_are_utc():
    entry = parse_log_entry({"id": "R1", "type": "x_log_entry", "created_at": "2024-05-14T05:02:11+02:00"})
    assert entry is not None and entry.created_at == BASE_TIME
    naive = parse_log_entry({"id": "R2", "type": "x_log_entry", "created_at": "2024-05-14T03:02:11"})
    assert naive is not None and naive.created_at == BASE_TIME


def test_timeline_keys_are_stable_per_log_entry():
    raw = [trigger_entry("R1", at=BASE_TIME), notify_entry("R2", at=BASE_TIME + timedelta(seconds=5), user="Alice")]
    first = log_entry_timeline(parse_log_entries(raw))
    again = log_entry_timeline(parse_log_entries(raw))
    assert [e.key for e in first] == ["pagerduty-log:R1", "pagerduty-log:R2"]
    assert first == again
    assert {e.source for e in first} == {"pagerduty"}
    assert first[1].at == datetime(2024, 5, 14, 3, 2, 16, tzinfo=UTC)


def test_a_note_that_fits_is_left_alone_and_a_long_one_is_marked():
    assert truncate_note("short") == "short"
    exact = "y" * NOTE_CONTENT_LIMIT
    assert truncate_note(exact) == exact
    cut = truncate_note(exact + "z")
    assert len(cut) == NOTE_CONTENT_LIMIT and cut.endswith(TRUNCATED_MARKER)
