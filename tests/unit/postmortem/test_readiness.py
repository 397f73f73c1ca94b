"""Pods not ready, per diagnosis run and at the peak (bot/postmortem/readiness.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Finding, Severity
from bot.postmortem.readiness import NotReady, not_ready_of, peak

T0 = datetime(2024, 7, 9, 9, 41, 12, tzinfo=UTC)


def not_ready(count: int, total: int = 6) -> Finding:
    return Finding("pods-not-ready", Severity.MEDIUM, f"{count} of {total} pods are not ready",
                   {"count": count, "pods_total": total, "ready": total - count})


def rollout(ready: int, replicas: int) -> Finding:
    return Finding("rollback-not-indicated", Severity.INFO, "No rollback",
                   {"current_revision": 18, "implication": {"pods_ready": ready, "replicas": replicas}})


def test_a_run_measures_its_not_ready_pods_from_the_finding_else_from_the_rollouts_counts() -> None:
    assert not_ready_of([rollout(3, 6), not_ready(3)]) == NotReady(3, 6)
    assert not_ready_of([rollout(4, 4)]) == NotReady(0, 4)  # every pod ready: measured, not missing
    assert not_ready_of([rollout(4, 5)], at=T0) == NotReady(1, 5, T0)
    assert not_ready_of([Finding("node-pressure", Severity.HIGH, "pressure", {"node": "n1"})]) is None
    assert not_ready_of([Finding("pods-not-ready", Severity.MEDIUM, "?", {"count": "many"})]) is None


def test_the_peak_is_the_most_not_ready_of_any_run() -> None:
    early, late = NotReady(7, 10, T0), NotReady(0, 10, T0 + timedelta(minutes=30))
    assert peak([NotReady(0, 10), early, late]) == early
    assert peak([None, None]) is None
    # Among equals, the draft's own findings (cited in the appendix), then the earliest run.
    assert peak([NotReady(3, 6, T0 + timedelta(minutes=9)), NotReady(3, 6, T0), NotReady(3, 6)]) == NotReady(3, 6)
    assert peak([NotReady(3, 6, T0 + timedelta(minutes=9)), NotReady(3, 6, T0)]) == NotReady(3, 6, T0)
    assert NotReady(0, 4).text() == "0 of 4" and NotReady(2, None).text() == "2"
