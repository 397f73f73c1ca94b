"""Rule ids and check names are the same words in the code, the registry, the playbooks and the docs."""

import re
from pathlib import Path

import pytest
import yaml

from bot.engine.registry import ALL_RULES, CHECKS, ENGINE_RULES, REASONING_RULES

ROOT = Path(__file__).resolve().parents[3]
CHECKS_DOC = (ROOT / "docs" / "checks.md").read_text()
RULE_LITERAL = re.compile(r'rule="([a-z0-9-]+)"')


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_a_check_emits_only_the_rules_it_declares(name):
    source = (ROOT / "bot" / "checks" / f"{name}.py").read_text()
    emitted = set(RULE_LITERAL.findall(source))
    assert emitted <= set(CHECKS[name].rules) | set(ENGINE_RULES)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_docs_table_lists_each_checks_rules(name):
    (row,) = [line for line in CHECKS_DOC.splitlines() if line.startswith(f"| `{name}` |")]
    documented = re.findall(r"`([a-z0-9-]+)`", row.split("|")[2])
    # image and dockerfile pass their doctors' rules through; the rest list theirs exactly, in order.
    assert [r for r in documented if r in ALL_RULES] == list(CHECKS[name].rules)


def test_every_engine_rule_is_documented():
    for rule in ENGINE_RULES + REASONING_RULES:
        assert f"`{rule}`" in CHECKS_DOC


def test_the_reasoning_writes_only_the_rules_it_declares():
    source = "".join(p.read_text() for p in sorted((ROOT / "bot" / "reasoning").glob("*.py")))
    assert set(RULE_LITERAL.findall(source)) <= set(REASONING_RULES)


def test_the_documented_diagnosis_json_names_the_rollback_and_cause_fields():
    playbooks_doc = (ROOT / "docs" / "playbooks.md").read_text()
    for field in ("`rollback`", "`cause`", "`recommended`", "`implicated_by`", "`chain[]`", "`ruled_out`",
                  "`confidence`", "`candidates`"):
        assert field in playbooks_doc


def test_shipped_playbooks_name_registered_checks_and_the_documented_triggers():
    for path in sorted((ROOT / "playbooks").glob("*.yaml")):
        book = yaml.safe_load(path.read_text())
        assert path.stem == book["name"]
        assert {entry["check"] for entry in book["checks"]} <= set(CHECKS)
    names = {p.stem for p in (ROOT / "playbooks").glob("*.yaml")}
    assert {"diagnose", "pagerduty-triggered"} <= names
