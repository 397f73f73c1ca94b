import dataclasses
import random
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bot.dockerfile.estimate import SizeEstimate
from bot.domain import Finding, Incident, Severity, TimelineEntry
from bot.postmortem.bundle import load_bundle
from bot.postmortem.evidence import DockerfileFix, ImageSummary
from bot.postmortem.render import PostmortemRenderError, content_hash, render_postmortem
from bot.postmortem.view import build_view


@pytest.fixture
def story(incident, timeline, findings, candidates, image, fix, cause, rollback) -> dict:
    return dict(
        incident=incident,
        timeline=timeline,
        findings=findings,
        rollback_candidates=candidates,
        image=image,
        dockerfile_fix=fix,
        cause=cause,
        rollback=rollback,
    )


def headings(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def test_same_evidence_gives_byte_identical_drafts(story: dict) -> None:
    first = render_postmortem(build_view(**story))
    shuffled = dict(story)
    for key in ("timeline", "findings", "rollback_candidates"):
        items = list(story[key])
        random.Random(7).shuffle(items)
        shuffled[key] = items
    second = render_postmortem(build_view(**shuffled))
    assert first == second
    assert content_hash(first) == content_hash(second)
    assert len(content_hash(first)) == 64


def test_content_hash_changes_with_the_content() -> None:
    assert content_hash("a\n") != content_hash("b\n")
    assert content_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_draft_has_every_section(story: dict) -> None:
    text = render_postmortem(build_view(**story))
    assert headings(text) == [
        "Postmortem: user-profile-service: readiness failing",
        "Summary",
        "Impact",
        "Detection and response",
        "Root cause and trigger",
        "Contributing factors",
        "Timeline",
        "Action items",
        "Dockerfile fix",
        "Lessons",
        "What went well",
        "What went wrong",
        "Where we got lucky",
        "Appendix",
        "Evidence",
        "Full timeline",
        "Layers of `registry.local/ups:8`",
        "Other revisions",
    ]


def test_draft_names_the_culprits_with_their_sizes_and_evidence(story: dict) -> None:
    text = render_postmortem(build_view(**story))
    assert "(`registry.local/ups:8`, 4.2 GB, 19.5× `registry.local/ups:7`):" in text
    assert (
        "- Layer 3, `COPY . .`: 1.8 GB (43%): `app/.git` 800 MB, `app/.venv` 600 MB, "
        "`app/data/test.csv` 400 MB (F3, F6)"
    ) in text
    assert "- Layer 2, `RUN apt-get update && apt-get install -y build-essential cuda-toolkit-12-1`: 2.1 GB" in text
    # The curated timeline labels the moments; the appendix keeps every line.
    assert "- **03:02:11** Page: PagerDuty triggers. user-profile-service: readiness failing" in text
    assert "- [2024-05-14 03:02:11] PagerDuty triggers. user-profile-service: readiness failing" in text
    # F-references resolve to the evidence appendix, with the rule id and the raw facts.
    assert "- **F6** `vcs-directory` (high, check `image`): .git (800 MB) is in the image" in text
    assert "  - `layer`: 3" in text


def test_diff_block_and_rollback_command_are_present(story: dict) -> None:
    text = render_postmortem(build_view(**story))
    tokens = MarkdownIt("commonmark").parse(text)
    fences = {t.info: t.content for t in tokens if t.type == "fence"}
    assert fences["diff"] == story["dockerfile_fix"].diff
    assert fences["sh"] == "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=7\n"
    assert "Rollback: revision 7, `registry.local/ups:7` (220 MB), healthy" in text


def test_untrusted_text_cannot_break_the_structure(story: dict, incident: Incident) -> None:
    hostile = "x\n## Injected heading\n| a | b |\n<script>alert(1)</script> [click](http://evil) *bold*"
    story["incident"] = dataclasses.replace(incident, title=hostile, service="svc`name")
    story["timeline"] = [*story["timeline"], TimelineEntry(story["incident"].created_at, "kubernetes", hostile, "ev:x")]
    story["findings"] = [*story["findings"], Finding("crashloop", Severity.HIGH, hostile, {"msg": hostile})]
    text = render_postmortem(build_view(**story))
    clean = render_postmortem(build_view(**{**story, "incident": incident}))
    html = MarkdownIt("commonmark").render(text)
    assert "Injected heading" not in headings(text)
    assert "<script>" not in html and "<a href" not in html and "<strong>bold" not in html
    assert len(headings(text)) == len(headings(clean))
    assert "`` svc`name ``" not in text and "``svc`name``" in text


def test_draft_without_optional_evidence_renders(incident: Incident) -> None:
    text = render_postmortem(build_view(incident=dataclasses.replace(incident, resolved_at=None), timeline=[],
                                        findings=[]))
    assert "Coroner recorded no findings." in text
    assert "No timeline entries were recorded." in text
    assert "No rollback was recommended: no earlier revision to roll back to." in text
    assert "ongoing since the page at 2024-05-14 03:02:11 UTC" in text
    assert "Coroner found no fault in the cluster" in text
    # Every response figure is there, missing ones said so with the reason. No rollout is blamed, so
    # detection is measured from the first symptom.
    assert "| Time to detect | first symptom → page | missing |" in text
    assert "- Time to acknowledge: no page in the timeline." in text
    assert "Dockerfile fix" not in headings(text)


def test_override_directory_wins(story: dict, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# Ours: {{ pm.incident.title }}\n{{ pm.fix.diff_block }}\n")
    text = render_postmortem(build_view(**story), templates_dir=tmp_path)
    assert text.startswith("# Ours: user-profile-service: readiness failing\n```diff\n")


def test_override_directory_falls_back_to_packaged_templates(story: dict, tmp_path: Path) -> None:
    (tmp_path / "other.md.j2").write_text("unused")
    assert render_postmortem(build_view(**story), templates_dir=tmp_path) == render_postmortem(build_view(**story))


def test_template_typo_fails_loudly(story: dict, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("# {{ pm.incident.title }}\n\n{{ pm.incident.titel }}\n")
    with pytest.raises(PostmortemRenderError, match=r"postmortem.md.j2:3: .*titel"):
        render_postmortem(build_view(**story), templates_dir=tmp_path)


def test_template_syntax_error_names_file_and_line(story: dict, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("ok\n{% if %}\n")
    with pytest.raises(PostmortemRenderError, match=r"postmortem.md.j2:2"):
        render_postmortem(build_view(**story), templates_dir=tmp_path)


def test_printing_none_fails_loudly(incident: Incident, tmp_path: Path) -> None:
    (tmp_path / "postmortem.md.j2").write_text("{{ pm.incident.resolved }}\n")
    view = build_view(incident=dataclasses.replace(incident, resolved_at=None), timeline=[], findings=[])
    with pytest.raises(PostmortemRenderError, match="printed None"):
        render_postmortem(view, templates_dir=tmp_path)


def test_missing_template_is_a_clear_error(story: dict) -> None:
    with pytest.raises(PostmortemRenderError, match="template not found: nope.j2"):
        render_postmortem(build_view(**story), template="nope.j2")


def test_image_summary_from_json_renders_like_the_dataclasses(story: dict, image: ImageSummary) -> None:
    data = {
        "ref": image.ref,
        "totals": {"size_bytes": image.total_bytes},
        "layers": [
            {"index": la.index, "size_bytes": la.size_bytes, "created_by": "x", "instruction": la.instruction,
             "top_paths": [{"path": p.path, "size_bytes": p.size_bytes} for p in la.top_paths]}
            for la in image.layers
        ],
    }
    story_json = {**story, "image": ImageSummary.from_json(data)}
    assert render_postmortem(build_view(**story_json)) == render_postmortem(build_view(**story))


def test_fix_without_notes_or_rules(story: dict) -> None:
    story["dockerfile_fix"] = DockerfileFix(diff="--- a\n+++ b\n")
    text = render_postmortem(build_view(**story))
    assert "Proposed change to `Dockerfile`:" in text


def test_pipes_in_instructions_stay_inside_their_table_cell(story: dict, image: ImageSummary) -> None:
    layers = (dataclasses.replace(image.layers[0], instruction="RUN a || b | c"), *image.layers[1:])
    story["image"] = dataclasses.replace(image, layers=layers)
    text = render_postmortem(build_view(**story))
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    rows: list[list[str]] = []
    in_row = False
    for t in tokens:
        if t.type in ("tr_open", "tr_close"):
            in_row = t.type == "tr_open"
            if in_row:
                rows.append([])
        elif t.type == "inline" and in_row:
            rows[-1].append(t.content)
    start = next(i for i, r in enumerate(rows) if r and r[0] == "Layer")
    layer_rows = rows[start:start + 1 + len(image.layers)]
    assert all(len(r) == 4 for r in layer_rows)
    assert any("RUN a" in cell and "| c" in cell for r in layer_rows for cell in r)


def test_fix_from_the_doctors_result_with_a_dockerignore(story: dict) -> None:
    @dataclasses.dataclass
    class FixResult:  # the shape of bot.dockerfile.fix.FixResult
        path: str
        diff: str
        notes: tuple[str, ...]
        fixed: tuple[Finding, ...]
        dockerignore: str | None

    result = FixResult("svc/Dockerfile", "--- a/svc/Dockerfile\n+++ b/svc/Dockerfile\n", ("kept USER",),
                       (Finding("DL3009", Severity.LOW, "x"), Finding("DL3015", Severity.LOW, "y"),
                        Finding("DL3009", Severity.LOW, "z")), ".git\n.venv\n*.csv\n")
    story["dockerfile_fix"] = DockerfileFix.from_fix_result(result)
    text = render_postmortem(build_view(**story))
    # The .dockerignore it writes answers dockerignore-missing too.
    assert "Proposed change to `svc/Dockerfile`, addressing `DL3009`, `DL3015`, `dockerignore-missing`:" in text
    fences = {t.info: t.content for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"}
    assert fences["gitignore"] == ".git\n.venv\n*.csv\n"


def test_an_edited_override_is_picked_up(story: dict, tmp_path: Path) -> None:
    import os

    template = tmp_path / "postmortem.md.j2"
    template.write_text("first\n")
    assert render_postmortem(build_view(**story), templates_dir=tmp_path) == "first\n"
    template.write_text("second\n")
    stat = template.stat()
    os.utime(template, (stat.st_atime, stat.st_mtime + 5))  # a later mtime, whatever the clock resolution
    assert render_postmortem(build_view(**story), templates_dir=tmp_path) == "second\n"


def test_the_fixs_predicted_size_is_shown_as_an_estimate(story: dict) -> None:
    estimate = {"estimate": True, "current_bytes": 4509715660, "estimated_bytes": 408944640,
                "removed": [{"item": "usr/local/cuda-12.1", "size_bytes": 2040109465, "rule": "build-tools-in-final-stage",
                             "layer": 1},
                            {"item": "app/.git", "size_bytes": 838860800, "rule": "vcs-directory", "layer": 4}],
                "baseline": "revision 7", "baseline_bytes": 230686720}
    story["dockerfile_fix"] = DockerfileFix.from_fix_result(dataclasses.make_dataclass(
        "FixResult", ["diff", "notes", "path", "fixed", "size_estimate"])(
        "--- a/Dockerfile\n+++ b/Dockerfile\n", (), "Dockerfile", (), SizeEstimate.from_json(estimate)))
    text = render_postmortem(build_view(**story))
    assert ("Predicted size after the fix, from the layer evidence: ≈ 390 MB instead of 4.2 GB (estimate), within "
            "1.8× of revision 7's 220 MB.") in text
    assert "- drops usr/local/cuda-12.1 1.9 GB (build-tools-in-final-stage, layer 1)" in text
    # The P0 item carries the same estimate.
    assert "its notes say what it leaves to a person. Predicted size: ≈ 390 MB instead of 4.2 GB (estimate)" in text
    # The bundle reads the fix's JSON back to the same draft.
    bundle = {"incident": story["incident"].to_json(), "dockerfile_fix": story["dockerfile_fix"].to_json()}
    assert load_bundle(bundle)["dockerfile_fix"] == story["dockerfile_fix"]


def test_a_patch_with_the_dockerignore_hunk_says_it_once(story: dict) -> None:
    patch = ("--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1 +1 @@\n-FROM x\n+FROM y\n"
             "--- /dev/null\n+++ b/.dockerignore\n@@ -0,0 +1,2 @@\n+.git\n+tests/data\n")
    story["dockerfile_fix"] = DockerfileFix(diff=patch, dockerignore=".git\ntests/data\n")
    text = render_postmortem(build_view(**story))
    fences = [t.info for t in MarkdownIt("commonmark").parse(text) if t.type == "fence"]
    assert "gitignore" not in fences and text.count("+tests/data") == 1
