"""The DraftPostmortem job on a real (SQLite) store, run by serve's own worker: what the draft takes from
every diagnosis run of the incident, not only the latest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain import Finding, Incident, Severity
from bot.jobs.draft_postmortem import KIND, DraftPostmortem
from bot.lifecycle.drafting import DraftHandler
from bot.store import Store
from bot.worker import JobWorker

T0 = datetime(2024, 9, 17, 14, 12, 41, tzinfo=UTC)


def rollout(ready: int, replicas: int = 4) -> Finding:
    return Finding("rollback-not-indicated", Severity.INFO, "No rollback: revision 12 is healthy",
                   {"current_revision": 12, "implication": {"pods_ready": ready, "replicas": replicas}}, None, "rollout")


def not_ready(count: int, total: int = 4) -> Finding:
    return Finding("pods-not-ready", Severity.MEDIUM, f"{count} of {total} pods of orders/order-api are not ready",
                   {"count": count, "pods_total": total, "ready": total - count}, None, "workload")


def draft_of(tmp_path: Path, runs: list[tuple[timedelta, list[Finding]]]) -> str:
    store = Store.from_url(f"sqlite:///{tmp_path / 'coroner.db'}")
    try:
        store.upgrade()
        command = DraftPostmortem(incident_id="pd-Q1", resolution=0)
        with store.unit_of_work() as uow:
            uow.incidents.add_if_absent(Incident(
                id="pd-Q1", source="pagerduty", external_id="Q1", title="order-api 5xx", service="order-api",
                status="resolved", urgency="high", created_at=T0, resolved_at=T0 + timedelta(minutes=52)))
            for i, (after, findings) in enumerate(runs):
                uow.diagnoses.record(dedupe_key=f"diagnose:{i}", incident_id="pd-Q1", findings=findings,
                                     started_at=T0 + after, target={"namespace": "orders", "name": "order-api"})
            uow.jobs.enqueue(kind=KIND, dedupe_key=command.dedupe_key(), payload=command.to_payload())
            uow.commit()
        done = JobWorker(store, {KIND: DraftHandler(store=store)}).run_once()
        assert done is not None and done.status.value == "done", done
        with store.unit_of_work() as uow:
            latest = uow.postmortems.latest("pd-Q1")
        assert latest is not None
        return latest.body_markdown
    finally:
        store.dispose()


def test_every_pod_ready_at_every_diagnosis_is_a_peak_of_zero_not_a_missing_figure(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, [(timedelta(minutes=2), [rollout(4)])])
    assert "- Pods not ready at peak: 0 of 4 (every pod was ready whenever Coroner diagnosed)" in draft


def test_the_peak_is_the_worst_diagnosis_run_even_when_the_latest_saw_the_pods_recover(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, [(timedelta(minutes=2), [not_ready(1), rollout(3)]),
                                (timedelta(minutes=9), [not_ready(3), rollout(1)]),
                                (timedelta(minutes=40), [rollout(4)])])
    assert "- Pods not ready at peak: 3 of 4 (diagnosis at 2024-09-17 14:21:41)" in draft


def test_the_latest_runs_own_finding_is_cited(tmp_path: Path) -> None:
    draft = draft_of(tmp_path, [(timedelta(minutes=2), [not_ready(2), rollout(2)]),
                                (timedelta(minutes=9), [not_ready(2), rollout(2)])])
    assert "- Pods not ready at peak: 2 of 4 (F1)" in draft
