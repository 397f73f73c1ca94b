import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.slack.blocks import (
    MAX_BLOCKS,
    TOTAL_CHARS_BUDGET,
    DiagnosisLike,
    PostmortemNotice,
    diagnosis_message,
    error_message,
    postmortem_message,
)


def diagnosis(findings: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "service": "user-profile-service",
        "target": {"context": None, "namespace": "prod", "kind": "Deployment", "name": "user-profile-service"},
        "findings": findings,
        "rollback_candidates": [
            {"revision": 7, "image": "r/ups:7", "size_bytes": 230686720, "healthy": True, "recommended": True,
             "undo_command": "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=7"},
            {"revision": 8, "image": "r/ups:8", "size_bytes": 4509715660, "healthy": False},
        ],
        "timeline": [{"at": f"2024-05-14T03:{m:02d}:11+00:00", "source": "k8s", "text": f"event {m}"} for m in range(15)],
        **extra,
    }


def finding(i: int, severity: str = "high", title: str | None = None) -> dict[str, Any]:
    return {"rule": "node-disk-high", "severity": severity, "title": title or f"imagefs 97% on node-{i}",
            "evidence": {"node": f"node-{i}", "imagefs_used_ratio": 0.97}}


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    """Within the documented limits, as slack_sdk's own validators check them, and within our margin."""
    assert len(blocks) <= MAX_BLOCKS
    assert len(json.dumps(blocks)) <= TOTAL_CHARS_BUDGET
    for block in blocks:
        Block.parse(block).to_dict()  # raises SlackObjectFormationError past a limit


def test_findings_grouped_by_severity_with_emoji() -> None:
    message = diagnosis_message(diagnosis([finding(1, "low"), finding(2, "critical"), finding(3, "critical")]))
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert sections[0].startswith(":red_circle: *Critical*\n• *imagefs 97% on node-2*  `node-disk-high`")
    assert "node-3" in sections[0]  # same severity, same section, engine order kept
    assert sections[1].startswith(":large_blue_circle: *Low*")
    assert message.text == "Diagnosis of user-profile-service: 2 critical, 1 low"
    assert_valid(message.blocks)


def test_evidence_uses_human_sizes() -> None:
    f = {"rule": "fat-layer", "severity": "high", "title": "big", "evidence": {"layer": 3, "bytes": 1932735283}}
    text = json.dumps(diagnosis_message(diagnosis([f])).blocks)
    assert "bytes=1.8 GB, layer=3" in text


def test_timeline_shows_the_tail_in_utc() -> None:
    blocks = diagnosis_message(diagnosis([])).blocks
    timeline = next(b for b in blocks if b.get("block_id") == "timeline")["text"]["text"]
    assert "… 5 earlier entries" in timeline
    assert timeline.endswith("`[2024-05-14 03:14:11]` event 14")


def test_no_findings_says_so() -> None:
    message = diagnosis_message(diagnosis([]))
    assert any(b["type"] == "section" and "No findings" in b["text"]["text"] for b in message.blocks)
    assert message.text.endswith("no findings")


@pytest.mark.parametrize("count", [1, 49, 200, 2000])
def test_limits_hold_at_any_count(count: int) -> None:
    message = diagnosis_message(diagnosis([finding(i, ("critical", "high", "info")[i % 3]) for i in range(count)]),
                                offer_rollback=True)
    assert_valid(message.blocks)
    notes = [e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"]]
    shown = sum(b["text"]["text"].count("• ") for b in message.blocks if b["type"] == "section"
                and b.get("block_id") is None)
    more = next((int(n.split()[1]) for n in notes if "more findings" in n), 0)
    assert shown + more == count
    assert any(b.get("block_id") == "rollback_actions" for b in message.blocks)


def test_huge_titles_and_evidence_are_cut() -> None:
    huge = finding(1, title="x" * 10_000)
    huge["evidence"] = {f"k{i}": "v" * 500 for i in range(20)}
    message = diagnosis_message(diagnosis([huge] * 30, service="s" * 500))
    assert_valid(message.blocks)
    assert len(message.blocks[0]["text"]["text"]) <= 150


def test_rollback_button_is_opt_in_and_carries_the_revision() -> None:
    assert not any(b["type"] == "actions" for b in diagnosis_message(diagnosis([])).blocks)
    blocks = diagnosis_message(diagnosis([]), offer_rollback=True).blocks
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["text"]["text"] == "Roll back to revision 7"
    assert json.loads(button["value"]) == {"context": None, "kind": "Deployment", "name": "user-profile-service",
                                           "namespace": "prod", "revision": 7}
    assert button["confirm"]["text"]["text"] == "Roll `prod/user-profile-service` back to revision 7 (`r/ups:7`)?"
    assert_valid(blocks)


def test_long_timeline_gives_way_to_findings() -> None:
    data = diagnosis([finding(i, "critical") for i in range(40)])
    data["timeline"] = [{"at": "2024-05-14T03:00:00", "source": "k8s", "text": "y" * 2000}] * 50
    message = diagnosis_message(data)
    assert_valid(message.blocks)
    assert sum(b["text"]["text"].count("• ") for b in message.blocks if b["type"] == "section") >= 10


def test_no_button_without_a_recommended_candidate() -> None:
    data = diagnosis([])
    data["rollback_candidates"] = [dict(c, recommended=False) for c in data["rollback_candidates"]]
    assert not any(b["type"] == "actions" for b in diagnosis_message(data, offer_rollback=True).blocks)


def test_accepts_a_diagnosis_object() -> None:
    class Diagnosis:
        def to_json(self) -> dict[str, Any]:
            return diagnosis([finding(1)])

    assert isinstance(Diagnosis(), DiagnosisLike)
    assert diagnosis_message(Diagnosis()) == diagnosis_message(diagnosis([finding(1)]))


def test_unknown_severity_is_shown_as_info() -> None:
    message = diagnosis_message(diagnosis([finding(1, "catastrophic")]))
    assert ":white_circle: *Info*" in json.dumps(message.blocks)


def test_postmortem_notice() -> None:
    notice = PostmortemNotice("inc-1", "disk <full> & more", 3, "in_review", "f" * 64, service="user-profile-service",
                              url="https://coroner.example/postmortems/inc-1", summary="`COPY . .` 1.8 GB")
    message = postmortem_message(notice)
    assert message.blocks[0]["text"]["text"] == "Postmortem in review: disk <\u200bfull> & more"
    assert "*disk &lt;full&gt; &amp; more*" in message.blocks[1]["text"]["text"]
    assert "version 3" in message.blocks[1]["text"]["text"]
    assert message.blocks[-1]["elements"][0]["url"] == notice.url
    assert_valid(message.blocks)


def test_error_message() -> None:
    message = error_message("Could not finish")
    assert message.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: Could not finish"}}]


def test_recommendation_from_the_rollback_candidate_finding() -> None:
    """The documented diagnosis JSON lists candidates without `recommended`: the finding says which."""
    data = diagnosis([{"rule": "rollback-candidate", "severity": "high", "title": "Roll back to revision 7",
                       "evidence": {"revision": 7, "undo_command": "kubectl rollout undo deployment/x -n prod "
                                                                   "--to-revision=7"}}])
    data["rollback_candidates"] = [{k: c[k] for k in ("revision", "image", "size_bytes", "healthy")}
                                   for c in data["rollback_candidates"]]
    blocks = diagnosis_message(data, offer_rollback=True).blocks
    rollback = next(b for b in blocks if b.get("block_id") == "rollback")["text"]["text"]
    assert "revision 7: `r/ups:7` (220 MB) :white_check_mark: recommended" in rollback
    assert "`kubectl rollout undo deployment/x -n prod --to-revision=7`" in rollback
    assert any(b["type"] == "actions" for b in blocks)


def test_recommendation_from_domain_candidates() -> None:
    from bot.domain import RollbackCandidate

    class Diagnosis:
        rollback_candidates = (
            RollbackCandidate(revision=4, image="r/ups:4", size_bytes=230686720, healthy=True, recommended=True,
                              undo_command="kubectl rollout undo deployment/ups -n prod --to-revision=4"),
        )

        def to_json(self) -> dict[str, Any]:
            data = diagnosis([])
            data["rollback_candidates"] = [{"revision": 4, "image": "r/ups:4", "size_bytes": 230686720,
                                            "healthy": True}]
            return data

    blocks = diagnosis_message(Diagnosis(), offer_rollback=True).blocks
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["text"]["text"] == "Roll back to revision 4"
