from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain import Finding, Severity, TimelineEntry
from bot.images.model import HistoryEntry, ImageConfig, ImageManifest, LayerRef
from bot.images.dockerfile_map import history_instruction
from bot.postmortem.evidence import ImageSummary, PathSize
from bot.postmortem.readiness import NotReady
from bot.postmortem.render import render_postmortem
from bot.postmortem.view import build_view, duration_text
from bot.render.order import order_timeline
from bot.render.values import stamp


@pytest.mark.parametrize(
    ("created_by", "instruction"),
    [
        ("/bin/sh -c #(nop)  COPY dir:9f2 in /app ", "COPY . /app"),
        ("/bin/sh -c apt-get update &&     apt-get install -y gcc", "RUN apt-get update && apt-get install -y gcc"),
        ("RUN /bin/sh -c pip install -r requirements.txt # buildkit", "RUN pip install -r requirements.txt"),
        ("COPY . . # buildkit", "COPY . ."),
        ('/bin/sh -c #(nop)  CMD ["python" "app.py"]', 'CMD ["python", "app.py"]'),
        ("/bin/sh -c #(nop)  ENV TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", "ENV TOKEN=***"),
    ],
)
def test_a_layer_without_an_instruction_is_named_from_its_history_as_the_image_autopsy_names_it(
    created_by: str, instruction: str
) -> None:
    """`coroner postmortem render` given an image JSON whose layers carry only `created_by`."""
    summary = ImageSummary.from_json({"image": {"ref": "r/app:8"}, "layers": [{"index": 0, "size_bytes": 1, "created_by": created_by}]})
    assert summary.layers[0].instruction == instruction == history_instruction(created_by)[1]


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
        (0, "ADD <file> /", 100),
        (1, "COPY . .", 900),
    ]
    assert summary.layers[1].top_paths == (PathSize(".git", 800),)
    assert (summary.size_bytes, summary.previous_ref, summary.previous_total_bytes) == (1000, "r/app:7", 100)


def test_culprits_are_big_layers_or_layers_named_by_a_finding(incident, image, cause, rollback) -> None:
    small_named = Finding("data-files", Severity.HIGH, "CSV in layer 1", {"layer": 1})
    view = build_view(incident=incident, timeline=[], findings=[small_named], image=image, cause=cause,
                      rollback=rollback)
    assert view.image is not None
    assert [la.index for la in view.image.culprits] == [2, 3, 1]  # largest first
    assert view.image.layers[1].refs == ("F1",)
    assert view.image.growth is None  # nothing to compare against
    # When the diagnosis does not blame the image, no layer is called a culprit.
    unblamed = build_view(incident=incident, timeline=[], findings=[small_named], image=image)
    assert unblamed.image is not None and unblamed.image.culprits == ()


def test_findings_get_stable_references_in_severity_order(incident, findings, cause, rollback) -> None:
    view = build_view(incident=incident, timeline=[], findings=list(reversed(findings)), cause=cause, rollback=rollback)
    assert [(f.ref, f.severity) for f in view.findings][:3] == [("F1", "critical"), ("F2", "critical"), ("F3", "high")]
    assert view.impact.nodes == ("node-1", "node-3")
    # The amplifiers of the diagnosis's chain are the contributing factors, each citing its findings.
    assert [(str(c.text), c.refs) for c in view.factors] == [("HPA pulls 50.4 GB", ("F4",)), ("Registry 503", ("F5",))]
    assert view.cause is not None and view.cause.links[1].refs == ("F1", "F2")


def test_duration_text() -> None:
    start = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)
    assert duration_text(start=start, end=start + timedelta(hours=2, minutes=30)) == "2 h 30 min"
    assert duration_text(start=start, end=start + timedelta(hours=2)) == "2 h"
    assert duration_text(start=start, end=start + timedelta(minutes=20, seconds=5)) == "20 min"
    assert duration_text(start=start, end=start + timedelta(seconds=45)) == "45 s"


def test_timeline_is_ordered_in_utc_and_deduplicated_by_key() -> None:
    cest = timezone(timedelta(hours=2))
    entries = [
        TimelineEntry(datetime(2024, 5, 14, 5, 2, 11, tzinfo=cest), "pagerduty", "PagerDuty triggers.", "pd:1"),
        TimelineEntry(datetime(2024, 5, 14, 3, 0, 0), "kubernetes", "Pulled\nslowly", "ev:1"),  # naive = UTC
        TimelineEntry(datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC), "pagerduty", "again", "pd:1"),
    ]
    lines = [f"[{stamp(e.at)}] {e.text}" for e in order_timeline(entries)]
    assert lines == ["[2024-05-14 03:00:00] Pulled\nslowly", "[2024-05-14 03:02:11] PagerDuty triggers."]
    assert stamp(datetime(2024, 5, 14, 5, 2, 11, 999, tzinfo=cest)) == "2024-05-14 03:02:11"


def test_long_instructions_are_shortened_and_hygiene_findings_do_not_make_culprits(incident, image) -> None:
    import dataclasses

    long_run = "RUN " + "apt-get install -y pkg && " * 20
    layers = (image.layers[0], dataclasses.replace(image.layers[1], instruction=long_run), *image.layers[2:])
    root = Finding("runs-as-root", Severity.MEDIUM, "root", {"layer": 1})
    view = build_view(incident=incident, timeline=[], findings=[root], image=dataclasses.replace(image, layers=layers))
    assert view.image is not None
    layer = view.image.layers[1]
    assert len(layer.instruction) <= 80 and layer.instruction.endswith("…")
    assert layer.instruction_full == long_run
    assert (layer.culprit, layer.refs) == (False, ())


def test_affected_nodes_from_strings_lists_and_counts(incident) -> None:
    findings = [
        Finding("evictions", Severity.HIGH, "evicted", {"nodes": {"n2": 1, "n1": 3}}),
        Finding("node-not-ready", Severity.HIGH, "down", {"node": "n3"}),
        Finding("node-disk-high", Severity.HIGH, "full", {"nodes": ["n1", "n4"]}),
    ]
    assert build_view(incident=incident, timeline=[], findings=findings).impact.nodes == ("n1", "n2", "n3", "n4")


def test_image_summary_reads_the_autopsy_json() -> None:
    data = {
        "image": {"ref": "r/ups:5", "digest": "sha256:x", "user": None},
        "layers": [
            {"index": 0, "size_bytes": 100, "created_by": "/bin/sh -c #(nop) ADD file:1 in / ", "instruction": "",
             "line": None, "top_paths": []},
            {"index": 1, "size_bytes": 900, "created_by": "COPY . . # buildkit", "instruction": "COPY . .", "line": 9,
             "top_paths": [{"path": "app/.git", "bytes": 800, "files": 12}]},
        ],
        "totals": {"size_bytes": 1000, "reclaimable_bytes": 0},
        "comparison": {"against": "r/ups:4", "size_bytes": 1000, "against_size_bytes": 50, "growth_factor": 20.0},
    }
    summary = ImageSummary.from_json(data, previous_total_bytes=7)
    assert (summary.ref, summary.previous_ref, summary.previous_total_bytes) == ("r/ups:5", "r/ups:4", 50)
    assert [la.instruction for la in summary.layers] == ["ADD <file> /", "COPY . ."]
    assert summary.layers[1].top_paths == (PathSize("app/.git", 800),)
    assert ImageSummary.from_json(summary.to_json()) == summary
    data["comparison"] = None
    assert ImageSummary.from_json(data, previous_total_bytes=7).previous_total_bytes == 7


def test_uncompressed_stored_sizes_win_over_file_sums() -> None:
    layer = {"index": 0, "size_bytes": 1900, "stored_bytes": 2100, "compressed": False, "instruction": "RUN apt-get"}
    summary = ImageSummary.from_json({"image": {"ref": "r"}, "layers": [layer], "totals": {"size_bytes": 1900}})
    assert (summary.layers[0].size_bytes, summary.size_bytes) == (2100, 2100)
    compressed = dict(layer, compressed=True)
    summary = ImageSummary.from_json({"image": {"ref": "r"}, "layers": [compressed], "totals": {"size_bytes": 1900}})
    assert (summary.layers[0].size_bytes, summary.size_bytes) == (1900, 1900)


def test_load_the_platform_added_is_a_contributing_factor_said_once(incident, findings, cause, rollback) -> None:
    """A chain link resting only on autoscaler, pull or registry findings is told under Contributing factors,
    whatever its role, and not again in the chain."""
    import dataclasses

    from bot.domain import CauseLink

    chain = (*cause.chain[:2], CauseLink("symptom", "registry 503", ("registry-errors",)))
    view = build_view(incident=incident, timeline=[], findings=findings, rollback=rollback,
                      cause=dataclasses.replace(cause, chain=chain))
    assert view.cause is not None
    assert [link.text for link in view.cause.links if not link.amplifies] == [
        "revision 8 (image 4.2 GB, 19.5× revision 7)", "2 nodes' imagefs full"]
    assert [str(c.text) for c in view.factors] == ["Registry 503"]


def test_pods_not_ready_at_peak_is_measured_across_runs_and_zero_when_all_were_ready(incident) -> None:
    all_ready = Finding("rollback-not-indicated", Severity.INFO, "No rollback", {
        "current_revision": 12, "implication": {"pods_ready": 4, "replicas": 4}})
    view = build_view(incident=incident, timeline=[], findings=[all_ready])
    assert view.impact.pods_not_ready_peak == "0 of 4 (every pod was ready whenever Coroner diagnosed)"
    assert view.impact.pods_ref is None
    assert "- Pods not ready at peak: 0 of 4 (every pod" in render_postmortem(view)

    earlier = NotReady(3, 4, at=datetime(2024, 5, 14, 3, 5, 0, tzinfo=UTC))
    peaked = build_view(incident=incident, timeline=[], findings=[all_ready], readiness=[earlier])
    assert peaked.impact.pods_not_ready_peak == "3 of 4 (diagnosis at 2024-05-14 03:05:00)"

    unmeasured = build_view(incident=incident, timeline=[], findings=[])
    assert "- Pods not ready at peak: not measured" in render_postmortem(unmeasured)
