"""The page the web view shows, read from a real store (SQLite and PostgreSQL) after a real review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.domain import Incident
from bot.postmortem.review import change_status
from bot.store import Store
from bot.store.records import AuditRecord, PostmortemStatus
from bot.web.load import load_postmortem_page, review_history
from bot.web.page import ReviewEvent
from tests.integration.conftest import FakeClock

T0 = datetime(2024, 5, 14, 6, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store.from_url(database_url, clock=clock)
    with store.unit_of_work() as uow:
        uow.incidents.add_if_absent(Incident(
            id="pd-Q1", source="pagerduty", external_id="Q1", title="[prod] user-profile-service: 5xx 38%",
            service="user-profile-service", status="resolved", urgency="high",
            created_at=datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)))
        uow.commit()
    yield store
    store.dispose()


def test_unknown_incident_has_no_page(store: Store) -> None:
    assert load_postmortem_page(store, "pd-NOPE") is None
    assert load_postmortem_page(store, "pd-Q1") is None  # an incident without a draft yet


def save_draft(store: Store, body: str) -> None:
    with store.unit_of_work() as uow:
        uow.postmortems.save_version(incident_id="pd-Q1", body_markdown=body, author="coroner")
        uow.commit()


def test_page_shows_the_latest_version_and_its_review(store: Store, clock: FakeClock) -> None:
    save_draft(store, "# Postmortem v1\n")
    clock.advance(minutes=5)
    change_status(store, incident_id="pd-Q1", version=1, to=PostmortemStatus.IN_REVIEW, actor="alice")
    clock.advance(minutes=5)
    with store.unit_of_work() as uow:  # what "Request changes" stores: the comment, with the version
        uow.audit.record(actor="bob", action="postmortem.changes_requested", target="pd-Q1",
                         details={"version": 1, "comment": "Add the 02:41 rollout to the timeline."})
        uow.commit()
    clock.advance(minutes=5)
    save_draft(store, "# Postmortem v2\n")

    page = load_postmortem_page(store, "pd-Q1")
    assert page is not None
    assert (page.title, page.service, page.version, page.status) == (
        "[prod] user-profile-service: 5xx 38%", "user-profile-service", 2, "draft")
    assert page.markdown == "# Postmortem v2\n"
    assert page.generated_at.replace(tzinfo=UTC) == datetime(2024, 5, 14, 6, 15, tzinfo=UTC)
    assert [(e.actor, e.action, e.version, e.comment) for e in page.history] == [
        ("alice", "in_review", 1, None),
        ("bob", "changes_requested", 1, "Add the 02:41 rollout to the timeline."),
    ]


def record(action: str, details: dict, minute: int = 0) -> AuditRecord:
    return AuditRecord(at=T0.replace(minute=minute), actor="alice", action=action, target="pd-Q1", details=details)


def test_history_keeps_review_steps_only_and_never_guesses_a_version() -> None:
    records = [
        record("postmortem.approved", {"version": 2}, minute=9),
        record("incident.acknowledged", {"version": 1}),          # not a review step
        record("postmortem.in_review", {}),                        # which version? not shown
        record("postmortem.in_review", {"version": "2"}),
        record("postmortem.in_review", {"version": True}),
        record("postmortem.changes_requested", {"version": 1, "comment": "  "}, minute=3),
        record("postmortem.changes_requested", {"version": 1, "comment": ["not", "text"]}, minute=4),
    ]
    assert review_history(records) == (
        ReviewEvent(T0.replace(minute=3), "alice", "changes_requested", 1, None),
        ReviewEvent(T0.replace(minute=4), "alice", "changes_requested", 1, None),
        ReviewEvent(T0.replace(minute=9), "alice", "approved", 2, None),
    )
