"""The gate's words are the same in the code, the docs and the README."""

from __future__ import annotations

import re
from pathlib import Path

from bot.gate.decision import CRITICAL_RULES, REASON_CODES, GatePolicy

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "gate.md").read_text()


def test_every_reason_code_has_its_row_in_the_docs():
    rows = re.findall(r"^\| `([a-z-]+)` \|", DOC, flags=re.MULTILINE)
    assert rows[: len(REASON_CODES)] == list(REASON_CODES)


def test_the_critical_rules_and_thresholds_are_the_documented_ones():
    (row,) = [line for line in DOC.splitlines() if line.startswith("| `new-critical-finding` |")]
    assert re.findall(r"`([a-z-]+)`", row.split("|")[2]) == list(CRITICAL_RULES)
    policy = GatePolicy()
    assert f"at least {policy.toolchain_min_bytes // 1_000_000} MB" in row
    assert f"default **{policy.image_gc_high_percent} %**" in DOC
    assert f"default **{policy.imagefs_available_percent} %**" in DOC


def test_the_docs_link_the_admission_webhook_and_the_readme_links_the_docs():
    assert "](admission.md)" in DOC
    assert "](docs/gate.md)" in (ROOT / "README.md").read_text()

