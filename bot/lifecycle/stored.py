"""A stored diagnosis run as the typed `Diagnosis` every sink renders: the Slack thread, the demo's
printout and the postmortem read the same object `coroner diagnose` prints.

The cause and the rollback decision are the run's own, as the engine decided them (issue 9). A run stored
before the engine reasoned about cause has neither: `bot.reasoning.reason` decides them from its findings
and candidates, the same function the engine calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import TimelineEntry
from bot.engine.diagnose import Diagnosis
from bot.postmortem.bundle import candidate_from_json, cause_from_json, decision_from_json, target_from_json
from bot.reasoning import reason
from bot.render.order import order_findings, order_timeline
from bot.store.records import DiagnosisRun


def stored_diagnosis(run: DiagnosisRun, *, service: str, timeline: Sequence[TimelineEntry] = ()) -> Diagnosis:
    workload = target_from_json({"namespace": "?", "name": service, **run.target})
    findings = tuple(run.findings)
    candidates = tuple(candidate_from_json(c) for c in run.rollback_candidates)
    if run.cause is not None and run.rollback is not None:
        cause, rollback = cause_from_json(run.cause), decision_from_json(run.rollback)
    else:
        reasoned = reason(findings, candidates, where=f"{workload.namespace}/{workload.name}")
        findings, candidates, cause, rollback = reasoned.findings, reasoned.candidates, reasoned.cause, reasoned.rollback
    finished = run.finished_at or run.started_at
    return Diagnosis(
        service=service,
        target=workload,
        findings=tuple(order_findings(findings)),
        rollback_candidates=candidates,
        timeline=tuple(order_timeline(timeline)),
        duration_ms=int((finished - run.started_at).total_seconds() * 1000),
        playbook=run.playbook or "diagnose",
        rollback=rollback,
        cause=cause,
    )
