"""A stored diagnosis run as the typed `Diagnosis` every sink renders: the Slack thread, the demo's
printout and the postmortem read the same object `coroner diagnose` prints.

The cause and the rollback decision are the run's own once the diagnosis stores them (issue 9); until then
the fallbacks decide them here, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import Target, TimelineEntry
from bot.engine.diagnose import Diagnosis
from bot.lifecycle.cause import fallback_cause, fallback_rollback
from bot.postmortem.bundle import candidate_from_json
from bot.render.order import order_findings, order_timeline
from bot.store.records import DiagnosisRun


def stored_diagnosis(run: DiagnosisRun, *, service: str, timeline: Sequence[TimelineEntry] = ()) -> Diagnosis:
    findings = tuple(order_findings(run.findings))
    candidates = tuple(candidate_from_json(c) for c in run.rollback_candidates)
    target = run.target
    finished = run.finished_at or run.started_at
    return Diagnosis(
        service=service,
        target=Target(context=target.get("context"), namespace=str(target.get("namespace", "?")),
                      kind=str(target.get("kind", "Deployment")), name=str(target.get("name", service))),
        findings=findings,
        rollback_candidates=candidates,
        timeline=tuple(order_timeline(timeline)),
        duration_ms=int((finished - run.started_at).total_seconds() * 1000),
        playbook=run.playbook or "diagnose",
        rollback=fallback_rollback(candidates, findings),
        cause=fallback_cause(findings),
    )

