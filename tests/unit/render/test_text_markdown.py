"""The text and Markdown sinks read the decisions of the typed `Diagnosis` and add none of their own."""

import dataclasses

from markdown_it import MarkdownIt

from bot.domain import Confidence, Finding, ProbableCause, RollbackDecision, Severity
from bot.render.markdown import render_markdown
from bot.render.text import render_text
from tests.doubles.slack_web import story_diagnosis


def test_text_leads_with_the_cause_and_numbers_the_findings_in_order() -> None:
    text = render_text(story_diagnosis("cart"))
    lines = text.splitlines()
    assert lines[0].startswith("Coroner diagnosis of cart: Deployment prod/cart, context prod-eu (playbook diagnose;")
    assert lines[2] == "Probable cause: none established from the evidence."
    assert "   1. [CRITICAL] node-disk-high: imagefs 97% on node-3" in lines
    assert "   2. [HIGH] fat-layer: Layer 3 COPY . . adds 1.8 GB" in lines
    assert "  Why: revision 8's image grew 19.5× and its pods cannot start" in lines


def test_a_decision_against_rollback_is_said_with_its_reason_and_no_recommendation() -> None:
    decision = RollbackDecision(False, None, "revision 8 has been live 4 days")
    text = render_text(dataclasses.replace(story_diagnosis("cart"), rollback=decision))
    assert "  Not recommended: revision 8 has been live 4 days." in text
    assert "Recommended:" not in text and "kubectl rollout undo" not in text


def test_undecided_cause_lists_the_candidates() -> None:
    cause = ProbableCause("the evidence does not single out one cause", (), (), (), Confidence.LOW,
                          ("crash loop", "OOM kills"))
    text = render_text(dataclasses.replace(story_diagnosis("cart"), cause=cause))
    assert "Probable cause: the evidence does not single out one cause. Candidates:\n  - crash loop\n  - OOM kills" in text


def test_a_cause_without_chain_or_candidates_is_said_as_the_finding_it_is() -> None:
    cause = ProbableCause("no fault found in cart: its pods are ready", (), (), (), Confidence.HIGH)
    text = render_text(dataclasses.replace(story_diagnosis("cart"), cause=cause))
    assert "Probable cause (high confidence): no fault found in cart: its pods are ready" in text
    assert "single out" not in text


def test_markdown_escapes_untrusted_text_and_keeps_the_structure() -> None:
    hostile = Finding("crashloop", Severity.HIGH, "x\n## Injected | <script>alert(1)</script> [a](http://evil)")
    markdown = render_markdown(story_diagnosis("cart", [hostile]))
    tokens = MarkdownIt("commonmark").parse(markdown)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["Diagnosis: cart", "Findings", "Rollback", "Timeline (UTC, repeats folded)"]
    html = MarkdownIt("commonmark").render(markdown)
    assert "<script>" not in html and "<a href" not in html
    fences = [t.content for t in tokens if t.type == "fence"]
    assert fences == ["kubectl rollout undo deployment/cart -n prod --to-revision=7\n"]
