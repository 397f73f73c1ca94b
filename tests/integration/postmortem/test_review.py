"""The review flow of a stored postmortem, through the CLI, on a real (SQLite) store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.domain import Incident
from bot.store import Store


@pytest.fixture
def stored(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("CORONER_DATABASE_URL", url)
    store = Store.from_url(url)
    store.upgrade()
    with store.unit_of_work() as uow:
        uow.incidents.add_if_absent(Incident(id="pd-Q1", source="pagerduty", external_id="Q1", title="5xx",
                                             service="svc", status="resolved", urgency="high",
                                             created_at=datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)))
        uow.postmortems.save_version(incident_id="pd-Q1", body_markdown="# Postmortem v1\n", author="coroner")
        uow.commit()
    yield store
    store.dispose()


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_draft_goes_to_review_then_approved_and_each_step_is_audited(stored):
    assert run("postmortem", "review", "pd-Q1", "in_review", "--by", "alice").output == "pd-Q1 v1: in_review\n"
    assert run("postmortem", "review", "pd-Q1", "approved", "--by", "bob").output == "pd-Q1 v1: approved\n"
    with stored.unit_of_work() as uow:
        actions = [(r.actor, r.action) for r in uow.audit.list(target="pd-Q1")]
    assert sorted(actions) == [("alice", "postmortem.in_review"), ("bob", "postmortem.approved")]
    shown = run("postmortem", "show", "pd-Q1")
    assert shown.exit_code == 0 and "# Postmortem v1" in shown.output


def test_a_draft_cannot_be_approved_without_review(stored):
    result = run("postmortem", "review", "pd-Q1", "approved", "--by", "alice")
    assert result.exit_code == 1
    assert "postmortem v1 of pd-Q1 is draft: it cannot become approved" in result.output


def test_an_approved_postmortem_is_final(stored):
    run("postmortem", "review", "pd-Q1", "in_review", "--by", "alice")
    run("postmortem", "review", "pd-Q1", "approved", "--by", "bob")
    result = run("postmortem", "review", "pd-Q1", "draft", "--by", "mallory")
    assert result.exit_code == 1 and "cannot become draft" in result.output


def test_unknown_incident_and_version_are_clear_errors(stored):
    assert "incident pd-NOPE has no postmortem" in run("postmortem", "show", "pd-NOPE").output
    assert "has no postmortem version 7" in run("postmortem", "show", "pd-Q1", "--version", "7").output
