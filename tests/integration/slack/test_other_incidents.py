"""Incidents other than the demo's, through `coroner serve`'s own app and workers: for each scenario, a
signed page (triggered -> acknowledged -> resolved) over HTTP, the diagnosis in the Slack thread and on
the root, the PagerDuty note, and the postmortem draft. What each should say is the SRE answer written at
the top of the scenario's YAML: rollback only when the service's own change is the cause, the culprit
workload named, the right resource, and the team's Dockerfile findings as hygiene when the image is not
what broke."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.paged import PD_ID, Incident, paged, text_of, wait_until

pytestmark = pytest.mark.slow  # the whole serve pipeline per scenario, with Slack, PagerDuty and the sim


@dataclass(frozen=True)
class Expected:
    """The SRE answer for one scenario (the comment at the top of its YAML), as a user checks it in Slack,
    in the PagerDuty note and in the draft."""

    scenario: str
    cause: tuple[str, ...]  # words the probable cause must hold: the culprit workload, the resource
    rollback_revision: int | None  # the revision to roll back to, or None: no rollback advised anywhere
    p0: tuple[str, ...] = ()  # words the draft's first P0 action item must hold: the fix is aimed at the culprit
    not_said: tuple[str, ...] = ()  # claims that would be wrong for this incident


SCENARIOS = [
    Expected("noisy-neighbour", cause=("analytics/nightly-reindex", "memory"), rollback_revision=None,
             p0=("analytics/nightly-reindex", "limits.memory"), not_said=("disk pressure", "DiskPressure")),
    Expected("healthy-service", cause=("no fault found in orders/order-api",), rollback_revision=None,
             not_said=("MemoryPressure", "DiskPressure", "Evict")),
    Expected("nodefs-logs-fill", cause=("telemetry/event-collector", "nodefs"), rollback_revision=None,
             p0=("telemetry/event-collector", "sizeLimit"),
             not_said=("image GC", "image filesystem", "Where the image's bytes came from", "(culprit)")),
    Expected("config-change-crashloop", cause=("revision 15", "/etc/worker/config.yaml"), rollback_revision=14,
             p0=("revision 15",), not_said=("DiskPressure", "MemoryPressure")),
]


@pytest.fixture(params=SCENARIOS, ids=[e.scenario for e in SCENARIOS])
def expected(request: pytest.FixtureRequest) -> Expected:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coroner.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def incident(expected: Expected, database: str, tmp_path: Path, slack_api: Any, pagerduty_api: Any) -> Iterator[Incident]:
    with paged(expected.scenario, database=database, tmp_path=tmp_path, slack_api=slack_api,
               pagerduty_api=pagerduty_api) as running:
        yield running


def section(draft: str, title: str) -> str:
    """One `## title` section of the draft, up to the next `## `."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", draft, flags=re.S | re.M)
    assert match, f"no section {title!r} in the draft"
    return match.group(1)


def test_the_user_sees_the_sre_answer(incident: Incident, expected: Expected) -> None:
    assert incident.send("incident.triggered", minutes=0).status_code == 202
    wait_until(lambda: incident.slack.messages and "Probable cause" in text_of(incident.root()),
               what="the probable cause on the root", timeout=60)
    note = incident.pd.wait_for("POST", f"/incidents/{PD_ID}/notes", timeout=40)[0].body["note"]["content"]
    assert incident.send("incident.acknowledged", minutes=4).status_code == 202
    assert incident.send("incident.resolved", minutes=52).status_code == 202
    draft = wait_until(incident.draft, what="the draft", timeout=60)
    wait_until(lambda: any("coroner_pm_approve" in text_of(m) for m in incident.thread()),
               what="the draft's notice in the thread", timeout=30)
    root, thread = text_of(incident.root()), [text_of(m) for m in incident.thread()]
    diagnosis = next(t for t in thread if "Diagnosis:" in t)
    dump = os.environ.get("CORONER_DUMP")  # to read what a user sees: CORONER_DUMP=/tmp/seen pytest ...
    if dump:
        out = Path(dump) / expected.scenario
        out.mkdir(parents=True, exist_ok=True)
        (out / "root.json").write_text(root)
        (out / "thread.json").write_text(json.dumps(thread, indent=1, ensure_ascii=False))
        (out / "note.txt").write_text(note)
        (out / "draft.md").write_text(draft)

    # Slack: the root leads with the cause, names the culprit, and shows the title's markup as text.
    cause_line = re.search(r"Probable cause:\*? ([^\"]*)", root)
    assert cause_line, root
    for word in expected.cause:
        assert word in cause_line.group(1), (word, cause_line.group(1))
        assert word in note
    assert "&lt;!channel&gt; &lt;b&gt;" in root and "<!channel>" not in root
    # The thread keeps the diagnosis's order but says which High findings are the Dockerfile's hygiene.
    lint = re.search(r"[^•]*`build-tools-in-final-stage`[^\\]*", diagnosis)
    assert lint and "hygiene, not this cause" in lint.group(0), diagnosis
    assert "hygiene, not this cause" not in re.search(r"[^•]*`(evictions|crashloop|rollback-not-indicated)`[^\\]*",
                                                      diagnosis).group(0)  # type: ignore[union-attr]
    # The PagerDuty note lists the incident's evidence; the Dockerfile's lint is hygiene, left to the draft.
    assert "build-tools-in-final-stage" not in note and "dockerignore-missing" not in note
    # Rollback: advised (root, note, button) exactly when the service's own change is the cause.
    advised = f"roll back to revision {expected.rollback_revision}"
    button = '"action_id": "coroner_rollback"' in diagnosis
    if expected.rollback_revision is None:
        assert "roll back to revision" not in cause_line.group(1) and "roll back to revision" not in note
        assert not button and "Rollback not recommended" in diagnosis
    else:
        assert advised in cause_line.group(1) and advised in note
        assert button and f"--to-revision={expected.rollback_revision}" in diagnosis

    # The draft: the Summary leads with the cause, and the first P0 is aimed at it.
    summary = section(draft, "Summary")
    for word in expected.cause:
        assert word in summary, (word, summary)
    actions = section(draft, "Action items")
    rows = [line for line in actions.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert 1 <= len(rows) <= 10
    p0 = [row for row in rows if "| P0 |" in row]
    if expected.p0:
        assert p0 and all(word in p0[0] for word in expected.p0), p0
        assert "To prevent a recurrence" in summary
    else:
        assert not p0, p0  # nothing found: no action claims to prevent a recurrence
    rollback_rows = [row for row in rows if "rollout undo" in row]
    response = section(draft, "Detection and response")
    if expected.rollback_revision is None:
        assert not rollback_rows and "No rollback was recommended" in response
        assert "change → page" not in response  # the last rollout did not start this incident
        assert "recommended rollback was not taken" not in draft
        lessons = section(draft, "Lessons")
        assert "reached production unchecked" not in lessons  # no change of the service's was the trigger
        if expected.p0:
            assert re.search(rf"Nothing contained the trigger \([^)]*{re.escape(expected.p0[0])}", lessons), lessons
    else:
        assert len(rollback_rows) == 1 and f"--to-revision={expected.rollback_revision}" in rollback_rows[0]
    # Figures: each is a value or says why it is missing; none is negative or measured from days before.
    detect = re.search(r"^\| Time to detect \| ([^|]+) \| ([^|]+) \|", response, flags=re.M)
    assert detect, response
    assert detect.group(2).strip() == "missing" or re.fullmatch(r"\d+ (min|s)", detect.group(2).strip()), detect.group(0)
    # The team's Dockerfile has findings, but the image did not break: its patch is hygiene.
    assert "Remove the culprit layers" not in draft and "Where the image's bytes came from" not in draft
    assert "Hygiene, not this incident's fix" in draft and "did not contribute" in actions
    assert not re.search(r"≈ (\S+ \S+) instead of \1", draft)  # no "estimate" that changes nothing
    story = draft[: draft.index("## Appendix")]
    for claim in expected.not_said:
        assert claim not in story and claim not in cause_line.group(1), claim
    # The key moments read in order: a rollout days before carries its date, and is not "the change".
    timeline = section(draft, "Timeline")
    if expected.rollback_revision is None:
        assert "Change:" not in timeline
    else:
        change = re.search(r"^- \*\*(\S+)\*\* Change: .*revision (\d+) rolled out", timeline, flags=re.M)
        assert change and change.group(2) == str(expected.rollback_revision + 1), timeline
        assert "Rollback:" not in timeline  # a config-only rollout keeps its image: it is not a rollback
