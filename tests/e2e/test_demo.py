"""`coroner demo` replays the outage end to end, and a second run adds nothing."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from bot.cli import main

pytestmark = pytest.mark.slow  # the whole demo, twice

TABLES = ("incidents", "inbound_events", "timeline_entries", "diagnosis_runs", "findings",
          "postmortems", "postmortem_versions", "jobs", "audit_log", "slack_posts", "diagnosis_requests")


def counts(db) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}


def test_demo_prints_the_story_writes_the_draft_and_is_idempotent(tmp_path):
    workdir = tmp_path / "coroner-demo"
    runner = CliRunner()

    first = runner.invoke(main, ["demo", "--workdir", str(workdir)])
    assert first.exit_code == 0, first.output
    out = first.output
    # What the on-call saw in Slack: the live root message in the catalog's channel, edited as the incident
    # moved on, with the probable cause, and the thread: the diagnosis, each event, the draft's notice.
    assert "Slack #inc-user-profile-service (root message" in out
    assert "Resolved: [prod] user-profile-service" in out and "*Assignee:* Dana On-Call" in out
    assert "Probable cause:* revision 5 (image 4.2 GB, 19.5× revision 4) →" in out and "roll back to revision 4" in out
    assert "└─ Diagnosis: user-profile-service" in out
    assert "PagerDuty acknowledged." in out and "PagerDuty resolves." in out
    assert "*Postmortem draft v1*" in out and "[Start review] [Approve] [Request changes]" in out
    # The page went through the signed intake, and the timeline is in the incident report's style.
    assert "] PagerDuty triggers. [prod] user-profile-service" in out
    assert "] PagerDuty resolves." in out
    assert "[2024-05-14 02:38:03] Deployment prod/user-profile-service revision 5 rolled out" in out
    # The culprits, with their sizes, and the rollback to the 220 MB revision.
    assert "COPY . ." in out and "app/.git 800 MB" in out and "app/.venv 600 MB" in out
    assert "apt-get install" in out
    assert "Recommended: revision 4, registry.internal:5000/user-profile-service:2024.05.02-3 (220 MB)" in out
    # The same text sink as `coroner diagnose`: the probable cause first, findings numbered, repeats folded.
    assert "Probable cause (high confidence): revision 5 (image 4.2 GB, 19.5× revision 4)" in out
    assert "[CRITICAL] image-size-regression: Revision 5's image is 4.2 GB" in out
    assert "6 pods: image pull failed: received unexpected HTTP status: 503 Service Unavailable (×21, " in out
    assert "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=4" in out
    for rule in ("node-not-ready", "node-pressure", "node-disk-high", "registry-errors", "pull-pressure",
                 "hpa-scaling", "vcs-directory", "image-size-regression"):
        assert f" {rule}: " in out, rule

    # The ending: the gate on revision 5 as it would have decided at 02:38, from the same evidence.
    gate = out.split("The gate on revision 5, as if it had run at 2024-05-14 02:38:03", 1)[1].split("Postmortem draft", 1)[0]
    assert ("coroner gate: FAIL registry.internal:5000/user-profile-service:2024.05.14-1 against "
            "registry.internal:5000/user-profile-service:2024.05.02-3") in gate
    assert "image-growth: 4.2 GB against 220 MB uncompressed (19.5x" in gate
    (pressure,) = [line for line in gate.splitlines() if "pull-pressure: " in line]
    assert "pull-pressure: 15 pods × 4.2 GB against the free imagefs on the three nodes" in pressure
    full = ("ip-10-0-2-63.ec2.internal", "ip-10-0-3-29.ec2.internal", "ip-10-0-3-84.ec2.internal")
    healthy = ("ip-10-0-1-21.ec2.internal", "ip-10-0-1-47.ec2.internal", "ip-10-0-2-18.ec2.internal")
    assert all(name in pressure for name in full) and not any(name in pressure for name in healthy)
    assert "30 replicas at most, 6 of 6 nodes without the image" in pressure
    for rule in ("vcs-directory", "build-toolchain", "secret-in-history"):
        assert f"new-critical-finding: {rule}: " in gate, rule

    drafts = list(workdir.glob("postmortem-*.md"))
    assert len(drafts) == 1 and str(drafts[0].name) in out
    draft = drafts[0].read_text()
    assert "```diff" in draft and "--- a/Dockerfile" in draft and "+++ b/Dockerfile" in draft
    assert "--no-install-recommends" in draft

    before = counts(workdir / "coroner.db")
    assert before["incidents"] == 1 and before["inbound_events"] == 3
    # Jobs: the diagnosis, the draft, one Slack post per event and per stored fact. Posts: the root (the
    # trigger), the diagnosis, the acknowledged and resolved lines, the notice.
    assert before["jobs"] == 7 and before["slack_posts"] == 5
    assert before["diagnosis_runs"] == 1 and before["postmortem_versions"] == 1
    assert before["timeline_entries"] > 10

    second = runner.invoke(main, ["demo", "--workdir", str(workdir)])
    assert second.exit_code == 0, second.output
    assert "unchanged, no new version" in second.output
    assert "Slack: nothing new posted (3 deliveries were duplicates of the last run)" in second.output
    assert counts(workdir / "coroner.db") == before
    assert drafts[0].read_text() == draft


def test_demo_refuses_a_scenario_without_an_incident(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path), "--scenario", "memory-pressure-storm"])
    assert result.exit_code != 0
    assert "scenario memory-pressure-storm has no incident" in result.output


def test_demo_in_a_directory_it_cannot_create_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["demo", "--workdir", str(blocker / "demo")])
    assert result.exit_code == 1
    assert result.output == f"coroner: error: cannot use {blocker / 'demo'} as the demo's directory: Not a directory\n"
