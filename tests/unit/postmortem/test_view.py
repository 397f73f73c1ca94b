from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain import Finding, Severity, TimelineEntry
from bot.images.model import HistoryEntry, ImageConfig, ImageManifest, LayerRef
from bot.postmortem.evidence import ImageSummary, PathSize, instruction_of
from bot.postmortem.view import build_view, duration_text
from bot.report import ordered_timeline, stamp, text_report, timeline_line


@pytest.mark.parametrize(
    ("created_by", "instruction"),
    [
        ("/bin/sh -c #(nop)  COPY dir:9f2 in /app ", "COPY dir:9f2 in /app"),
        ("/bin/sh -c apt-get update &&     apt-get install -y gcc", "RUN apt-get update && apt-get install -y gcc"),
        ("RUN /bin/sh -c pip install -r requirements.txt # buildkit", "RUN pip install -r requirements.txt"),
        ("COPY . . # buildkit", "COPY . ."),
        ('/bin/sh -c #(nop)  CMD ["python" "app.py"]', 'CMD ["python" "app.py"]'),
    ],
)
def test_instruction_of_history(created_by: str, instruction: str) -> None:
    assert instruction_of(created_by) == instruction


def test_image_summary_from_manifest_pairs_history_with_layers() -> None:
    manifest = ImageManifest(
        ref="r/app:8",
        digest=None,
        config=ImageConfig(),
        history=(
            HistoryEntry("/bin/sh -c #(nop) ADD file:1 in / "),
            HistoryEntry("/bin/sh -c #(nop)  ENV A=b", empty_layer=True),
            HistoryEntry("COPY . . # buildkit"),
        ),
        layers=(LayerRef(0, "sha256:a", 100), LayerRef(1, "sha256:b", 900)),
    )
    previous = ImageManifest(ref="r/app:7", digest=None, config=ImageConfig(), history=(),
                             layers=(LayerRef(0, "sha256:a", 100),))
    summary = ImageSummary.from_manifest(manifest, top_paths={1: [PathSize(".git", 800)]}, previous=previous)
    assert [(la.index, la.instruction, la.size_bytes) for la in summary.layers] == [
        (0, "ADD file:1 in /", 100),
        (1, "COPY . .", 900),
    ]
    assert summary.layers[1].top_paths == (PathSize(".git", 800),)
    assert (summary.size_bytes, summary.previous_ref, summary.previous_total_bytes) == (1000, "r/app:7", 100)


def test_culprits_are_big_layers_or_layers_named_by_a_finding(incident, image) -> None:
    small_named = Finding("secret-file", Severity.HIGH, ".env in layer 1", {"layer": 1})
    view = build_view(incident=incident, timeline=[], findings=[small_named], image=image)
    assert view.image is not None
    assert [la.index for la in view.image.culprits] == [2, 3, 1]  # largest first
    assert view.image.layers[1].refs == ("F1",)
    assert view.image.growth is None  # nothing to compare against


def test_findings_get_stable_references_in_severity_order(incident, findings) -> None:
    view = build_view(incident=incident, timeline=[], findings=list(reversed(findings)))
    assert [(f.ref, f.severity) for f in view.findings][:3] == [("F1", "critical"), ("F2", "critical"), ("F3", "high")]
    assert view.affected_nodes == ("node-1", "node-3")
    assert [f.label for f in view.factors] == [
        "HPA pull amplification", "Disk pressure on nodes", "Registry errors and image pulls"]


def test_duration_text() -> None:
    start = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)
    assert duration_text(start, start + timedelta(hours=2, minutes=30)) == "2 h 30 min"
    assert duration_text(start, start + timedelta(hours=2)) == "2 h"
    assert duration_text(start, start + timedelta(minutes=20, seconds=5)) == "20 min"
    assert duration_text(start, start + timedelta(seconds=45)) == "45 s"


def test_timeline_is_ordered_in_utc_and_deduplicated_by_key() -> None:
    cest = timezone(timedelta(hours=2))
    entries = [
        TimelineEntry(datetime(2024, 5, 14, 5, 2, 11, tzinfo=cest), "pagerduty", "PagerDuty triggers.", "pd:1"),
        TimelineEntry(datetime(2024, 5, 14, 3, 0, 0), "kubernetes", "Pulled\nslowly", "ev:1"),  # naive = UTC
        TimelineEntry(datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC), "pagerduty", "again", "pd:1"),
    ]
    lines = [timeline_line(e) for e in ordered_timeline(entries)]
    assert lines == ["[2024-05-14 03:00:00] Pulled slowly", "[2024-05-14 03:02:11] PagerDuty triggers."]
    assert stamp(datetime(2024, 5, 14, 5, 2, 11, 999, tzinfo=cest)) == "2024-05-14 03:02:11"


def test_text_report_reads_like_the_incident_report(findings, timeline, candidates) -> None:
    text = text_report(title="user-profile-service", findings=findings, timeline=timeline,
                       rollback_candidates=candidates)
    assert "[2024-05-14 03:02:11] PagerDuty triggers." in text
    assert "  CRITICAL node-disk-high: imagefs 96% on node-1" in text
    assert "evidence: imagefs_used_ratio=96%, node=node-1" in text
    assert " * revision 7: registry.local/ups:7 (220 MB, healthy)" in text
    assert "undo: kubectl rollout undo deployment/user-profile-service -n prod --to-revision=7" in text
