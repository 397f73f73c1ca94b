"""The durable diagnosis worker: claim, diagnose, store, complete; a failure is recorded and retried."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from bot.domain import Finding, Incident, Severity, Target, TimelineEntry
from bot.engine.diagnose import Diagnosis
from bot.incidents.service import DIAGNOSE_JOB
from bot.store import Store
from bot.store.records import JobStatus
from bot.worker import DiagnosisWorker

AT = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = Store.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    s.upgrade()
    yield s
    s.dispose()


def diagnosis_of(service: str) -> Diagnosis:
    return Diagnosis(
        service=service,
        target=Target(context=None, namespace="prod", kind="Deployment", name=service),
        findings=(Finding(rule="node-not-ready", severity=Severity.CRITICAL, title="Node n1 is NotReady"),),
        rollback_candidates=(),
        timeline=(TimelineEntry(at=AT, source="kubernetes", text="Node n1 NotReady", key="k8s:n1:notready"),),
        duration_ms=5,
    )


def enqueue(store: Store, incident_id: str = "pd-Q1") -> None:
    with store.unit_of_work() as uow:
        uow.incidents.add_if_absent(Incident(id=incident_id, source="pagerduty", external_id=incident_id[3:],
                                             title="5xx", service="user-profile-service", status="triggered",
                                             urgency="high", created_at=AT))
        uow.jobs.enqueue(kind=DIAGNOSE_JOB, dedupe_key=f"diagnose:{incident_id}",
                         payload={"incident_id": incident_id, "service": "user-profile-service"})
        uow.commit()


def job_status(store: Store) -> tuple[JobStatus, int, str | None]:
    with store.unit_of_work() as uow:
        (job,) = uow.jobs.list()
    return job.status, job.attempts, job.last_error


def test_runs_a_job_and_stores_its_findings_and_timeline(store):
    enqueue(store)
    seen = []
    worker = DiagnosisWorker(store, lambda job: seen.append(job.payload["service"]) or diagnosis_of("svc"), name="w1")

    outcome = worker.run_once()

    assert outcome is not None and seen == ["user-profile-service"]
    assert job_status(store)[0] == JobStatus.DONE
    assert [e.key for e in store.timeline("pd-Q1")] == ["k8s:n1:notready"]
    with store.unit_of_work() as uow:
        (run,) = uow.diagnoses.list_for_incident("pd-Q1")
    assert [f.rule for f in run.findings] == ["node-not-ready"]
    assert worker.run_once() is None  # nothing left to claim


def test_a_failing_diagnosis_is_recorded_requeued_and_reraised(store):
    enqueue(store)

    def broken(job):
        raise RuntimeError("cluster unreachable")

    with pytest.raises(RuntimeError, match="cluster unreachable"):
        DiagnosisWorker(store, broken, name="w1").run_once()
    status, attempts, error = job_status(store)
    assert (status, attempts) == (JobStatus.QUEUED, 1)
    assert "cluster unreachable" in error

    # The next worker picks it up again and finishes it.
    assert DiagnosisWorker(store, lambda job: diagnosis_of("svc"), name="w2").run_once() is not None
    assert job_status(store)[0] == JobStatus.DONE


def test_run_forever_survives_a_bad_job_and_stops_when_told(store):
    enqueue(store, "pd-Q1")
    enqueue(store, "pd-Q2")
    stop = threading.Event()
    calls = []

    def flaky(job):
        calls.append(job.payload["incident_id"])
        if job.payload["incident_id"] == "pd-Q1" and calls.count("pd-Q1") == 1:
            raise RuntimeError("transient")
        if len(calls) >= 3:
            stop.set()
        return diagnosis_of("svc")

    thread = threading.Thread(target=DiagnosisWorker(store, flaky).run_forever, args=(stop,),
                              kwargs={"idle_seconds": 0.05})
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert sorted(calls) == ["pd-Q1", "pd-Q1", "pd-Q2"]
