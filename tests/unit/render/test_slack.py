"""The Slack sink renders a typed `Diagnosis`: the probable cause first, the findings in the diagnosis's
order, the rollback decision as decided, the folded timeline, all inside Slack's limits."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.domain import (
    CauseLink,
    Confidence,
    Finding,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Severity,
    Target,
    TimelineEntry,
)
from bot.engine.diagnose import Diagnosis
from bot.render.slack import diagnosis_message
from bot.slack.blocks import MAX_BLOCKS, TOTAL_CHARS_BUDGET

T0 = datetime(2024, 5, 14, 3, 0, 11, tzinfo=UTC)
UNDO = "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=7"


def diagnosis(findings: list[Finding], **changes: Any) -> Diagnosis:
    d = Diagnosis(
        service="user-profile-service",
        target=Target(None, "prod", "Deployment", "user-profile-service"),
        findings=tuple(findings),
        rollback_candidates=(
            RollbackCandidate(7, "r/ups:7", 230686720, True, recommended=True, undo_command=UNDO),
            RollbackCandidate(8, "r/ups:8", 4509715660, False),
        ),
        timeline=tuple(TimelineEntry(T0 + timedelta(minutes=m), "rollout", f"revision {m} rolled out", f"k{m}")
                       for m in range(15)),
        duration_ms=640,
        rollback=RollbackDecision(True, 7, "revision 8's image grew 19.5× and its pods fail to pull",
                                  ("image-size-regression",)),
        cause=ProbableCause("revision 8 (image 4.2 GB) → imagefs full → NotReady",
                            (CauseLink("trigger", "revision 8 (image 4.2 GB)", ("image-size-regression",)),),
                            ("image-size-regression",), (), Confidence.HIGH),
    )
    return dataclasses.replace(d, **changes)


def finding(i: int, severity: Severity = Severity.HIGH, title: str | None = None) -> Finding:
    return Finding("node-disk-high", severity, title or f"imagefs 97% on node-{i}",
                   {"node": f"node-{i}", "imagefs_used_ratio": 0.97})


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    """Within the documented limits, as slack_sdk's own validators check them, and within our margin."""
    assert len(blocks) <= MAX_BLOCKS
    assert len(json.dumps(blocks)) <= TOTAL_CHARS_BUDGET
    for block in blocks:
        Block.parse(block).to_dict()  # raises SlackObjectFormationError past a limit


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_leads_with_the_probable_cause() -> None:
    message = diagnosis_message(diagnosis([finding(1)]))
    assert [b["type"] for b in message.blocks[:3]] == ["header", "context", "section"]
    assert message.blocks[2]["block_id"] == "probable_cause"
    assert sections(message.blocks)[0] == (":mag: *Probable cause* (high confidence): revision 8 (image 4.2 GB) "
                                           "→ imagefs full → NotReady")


def test_undecided_cause_lists_the_candidates() -> None:
    cause = ProbableCause("the evidence does not single out one cause", (), (), (), Confidence.LOW,
                          ("crash loop <b>", "OOM kills"))
    text = sections(diagnosis_message(diagnosis([], cause=cause)).blocks)[0]
    assert "does not single out one cause" in text and "• crash loop &lt;b&gt;\n• OOM kills" in text


def test_a_cause_without_chain_or_candidates_is_said_as_the_finding_it_is() -> None:
    # "no fault found in ..." is a conclusion, not an undecided cause: the thread says what the root says.
    cause = ProbableCause("no fault found in payments/ledger: its pods are ready", (), (), (), Confidence.HIGH)
    text = sections(diagnosis_message(diagnosis([], cause=cause)).blocks)[0]
    assert "*Probable cause* (high confidence): no fault found in payments/ledger" in text
    assert "single out" not in text


def test_findings_keep_the_diagnosis_order_one_section_per_severity() -> None:
    message = diagnosis_message(diagnosis([finding(2, Severity.CRITICAL), finding(3, Severity.CRITICAL),
                                           finding(1, Severity.LOW)]))
    texts = sections(message.blocks)[1:]
    assert texts[0].startswith(":red_circle: *Critical*\n• *imagefs 97% on node-2*  `node-disk-high`")
    assert texts[0].index("node-2") < texts[0].index("node-3")
    assert texts[1].startswith(":large_blue_circle: *Low*")
    assert message.text == "Diagnosis of user-profile-service: 2 critical, 1 low"
    assert_valid(message.blocks)


def test_evidence_uses_human_sizes_and_scalar_facts_only() -> None:
    f = Finding("fat-layer", Severity.HIGH, "big", {"layer": 3, "bytes": 1932735283, "paths": [{"p": 1}]})
    text = json.dumps(diagnosis_message(diagnosis([f])).blocks)
    assert "bytes=1.8 GB, layer=3" in text and "paths" not in text


def test_timeline_shows_the_folded_tail_in_utc() -> None:
    blocks = diagnosis_message(diagnosis([])).blocks
    timeline = next(b for b in blocks if b.get("block_id") == "timeline")["text"]["text"]
    assert "… 5 earlier lines" in timeline
    assert timeline.endswith("`[2024-05-14 03:14:11]` revision 14 rolled out")


def test_repeated_events_fold_into_one_line() -> None:
    events = tuple(TimelineEntry(T0 + timedelta(seconds=s), "kubernetes",
                                 f"Pod p{s}: BackOff: Back-off restarting failed container app (×{s + 2})", f"e{s}")
                   for s in range(3))
    timeline = next(b for b in diagnosis_message(diagnosis([], timeline=events)).blocks
                    if b.get("block_id") == "timeline")["text"]["text"]
    assert timeline.splitlines()[1:] == [
        "`[2024-05-14 03:00:11]` 3 pods: BackOff: Back-off restarting failed container app (×9, 03:00:11–03:00:13)"]


def test_no_findings_says_so() -> None:
    message = diagnosis_message(diagnosis([]))
    assert any("No findings" in text for text in sections(message.blocks))
    assert message.text.endswith("no findings")


@pytest.mark.parametrize("count", [1, 49, 200, 2000])
def test_limits_hold_at_any_count(count: int) -> None:
    severities = (Severity.CRITICAL, Severity.HIGH, Severity.INFO)
    message = diagnosis_message(diagnosis([finding(i, severities[i % 3]) for i in range(count)]),
                                offer_rollback=True)
    assert_valid(message.blocks)
    notes = [e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"]]
    shown = sum(b["text"]["text"].count("• ") for b in message.blocks if b["type"] == "section"
                and b.get("block_id") is None)
    more = next((int(n.split()[1]) for n in notes if "more findings" in n), 0)
    assert shown + more == count
    assert any(b.get("block_id") == "rollback_actions" for b in message.blocks)


def test_huge_titles_and_evidence_are_cut() -> None:
    huge = Finding("node-disk-high", Severity.HIGH, "x" * 10_000, {f"k{i}": "v" * 500 for i in range(20)})
    message = diagnosis_message(diagnosis([huge] * 30, service="s" * 500))
    assert_valid(message.blocks)
    assert len(message.blocks[0]["text"]["text"]) <= 150


def test_rollback_reads_the_decision_and_the_button_is_opt_in() -> None:
    assert not any(b["type"] == "actions" for b in diagnosis_message(diagnosis([])).blocks)
    blocks = diagnosis_message(diagnosis([]), offer_rollback=True).blocks
    rollback = next(b for b in blocks if b.get("block_id") == "rollback")["text"]["text"]
    assert rollback.startswith(":white_check_mark: *Roll back to revision 7:* revision 8's image grew 19.5×")
    assert f"`{UNDO}`" in rollback and "• revision 8: `r/ups:8` (4.2 GB) not healthy" in rollback
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["text"]["text"] == "Roll back to revision 7"
    assert json.loads(button["value"]) == {"context": None, "kind": "Deployment", "name": "user-profile-service",
                                           "namespace": "prod", "revision": 7}
    assert button["confirm"]["text"]["text"] == "Roll `prod/user-profile-service` back to revision 7 (`r/ups:7`)?"
    assert_valid(blocks)


def test_a_decision_against_rollback_wins_over_a_candidates_flag() -> None:
    """Nothing is re-derived: a healthy earlier revision is not a recommendation when the decision says no."""
    decision = RollbackDecision(False, None, "revision 8 has been live 4 days; the evictions hit 3 other workloads")
    blocks = diagnosis_message(diagnosis([], rollback=decision), offer_rollback=True).blocks
    rollback = next(b for b in blocks if b.get("block_id") == "rollback")["text"]["text"]
    assert rollback.startswith("*Rollback not recommended:* revision 8 has been live 4 days")
    assert not any(b["type"] == "actions" for b in blocks)


def test_long_timeline_gives_way_to_findings() -> None:
    long = tuple(TimelineEntry(T0, "rollout", "y" * 2000 + str(i), f"k{i}") for i in range(50))
    message = diagnosis_message(diagnosis([finding(i, Severity.CRITICAL) for i in range(40)], timeline=long))
    assert_valid(message.blocks)
    assert sum(b["text"]["text"].count("• ") for b in message.blocks if b["type"] == "section") >= 10


def test_untrusted_text_is_escaped_and_credentials_redacted() -> None:
    f = Finding("secret-in-history", Severity.CRITICAL, "<!channel> password=hunter2hunter2 *bold*",
                {"value": "AKIAIOSFODNN7EXAMPLE"})
    text = json.dumps(diagnosis_message(diagnosis([f])).blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "AKIAIOSFODNN7EXAMPLE" not in text


def test_dockerfile_lint_is_marked_hygiene_only_when_the_image_is_not_the_cause() -> None:
    """Same findings, two causes: when a neighbour is the cause, the Dockerfile's High lint says it is
    hygiene on its line (in the diagnosis's order); when the image is, it does not."""
    lint = Finding("dockerignore-missing", Severity.HIGH, "No .dockerignore", {"line": 3}, None, "dockerfile")
    evicted = Finding("evictions", Severity.HIGH, "3 pods evicted", {"count": 3}, None, "workload")
    neighbour = ProbableCause("batch/reindex → MemoryPressure", (CauseLink("trigger", "batch/reindex", ("noisy-neighbour",)),),
                              ("noisy-neighbour", "evictions"), (), Confidence.HIGH)
    elsewhere = sections(diagnosis_message(diagnosis(
        [lint, evicted], cause=neighbour, rollback=RollbackDecision(False, None, "revision 8 is 3 d old"))).blocks)
    assert "`dockerignore-missing`  _hygiene, not this cause_" in elsewhere[1]
    assert "`evictions`  _hygiene" not in elsewhere[1]
    blamed = sections(diagnosis_message(diagnosis([lint, evicted])).blocks)
    assert "hygiene" not in "".join(blamed)


def test_a_statefulset_gets_the_recommendation_and_its_command_but_no_button() -> None:
    """The button's rollback undoes a Deployment only: a StatefulSet's is told as its kubectl command."""
    undo = "kubectl rollout undo statefulset/kafka -n data --to-revision=7"
    sts = diagnosis([], target=Target(None, "data", "StatefulSet", "kafka"), rollback_candidates=(
        RollbackCandidate(7, "r/kafka:7", None, True, recommended=True, undo_command=undo),))
    blocks = diagnosis_message(sts, offer_rollback=True).blocks
    rollback = next(b for b in blocks if b.get("block_id") == "rollback")["text"]["text"]
    assert rollback.startswith(":white_check_mark: *Roll back to revision 7:*") and f"`{undo}`" in rollback
    assert not any(b["type"] == "actions" for b in blocks)
