"""The incident root message's one-line probable cause reads the diagnosis's cause and rollback decision."""

from bot.domain import Finding, RollbackDecision, Severity
from bot.lifecycle.cause import probable_cause

CAUSE = {"summary": "analytics/nightly-reindex (CronJob), no memory limit → MemoryPressure on 2 nodes → 3 pods evicted"}


def test_it_leads_with_the_cause_and_keeps_the_rollback_clause_only_when_recommended():
    yes = RollbackDecision(True, 4, "revision 5's image grew", ("image-size-regression",)).to_json()
    no = RollbackDecision(False, None, "revision 18 has been live 4 d").to_json()
    assert probable_cause(CAUSE, yes, []) == f"{CAUSE['summary']}; roll back to revision 4"
    assert probable_cause(CAUSE, no, []) == CAUSE["summary"]


def test_a_run_stored_before_the_engine_reasoned_falls_back_to_its_worst_finding():
    findings = [Finding("rollback-candidate", Severity.HIGH, "Roll back to revision 4"),
                Finding("node-disk-high", Severity.CRITICAL, "Node n1 imagefs   97% used")]
    assert probable_cause(None, None, findings) == "Node n1 imagefs 97% used"
    assert probable_cause(None, None, []) is None
