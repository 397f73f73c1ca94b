import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Finding, Incident, Severity, TimelineEntry
from bot.store import NotFound, PostmortemStatus

T0 = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


def make_incident(store, incident_id="pd-PGR0VU2"):
    with store.unit_of_work() as uow:
        uow.incidents.add_if_absent(
            Incident(
                id=incident_id,
                source="pagerduty",
                external_id=incident_id.removeprefix("pd-"),
                title="user-profile-service down",
                service="user-profile-service",
                status="triggered",
                urgency="high",
                created_at=T0,
            )
        )
        uow.commit()
    return incident_id


def committed(store, write):
    """`write(uow)` in a unit of work of its own, committed: what one request or job step does."""
    with store.unit_of_work() as uow:
        result = write(uow)
        uow.commit()
    return result


def entry(key, minutes, text=None):
    return TimelineEntry(at=T0 + timedelta(minutes=minutes), source="test", text=text or key, key=key)


def test_incident_round_trips_as_a_domain_object(store):
    incident_id = make_incident(store)
    with store.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
        assert isinstance(incident, Incident)
        assert incident.created_at == T0 and incident.created_at.tzinfo is not None
        assert uow.incidents.list() == [incident]
        assert uow.incidents.get("pd-nope") is None


def test_incident_insert_is_idempotent(store):
    make_incident(store)
    with store.unit_of_work() as uow:
        assert not uow.incidents.add_if_absent(uow.incidents.get("pd-PGR0VU2"))
        uow.commit()
    with store.unit_of_work() as uow:
        assert len(uow.incidents.list()) == 1


def test_status_never_moves_back_in_time(store):
    incident_id = make_incident(store)
    with store.unit_of_work() as uow:
        assert uow.incidents.set_status(incident_id, status="resolved", at=T0 + timedelta(hours=2))
        assert not uow.incidents.set_status(incident_id, status="triggered", at=T0 + timedelta(minutes=1))
        uow.commit()
    with store.unit_of_work() as uow:
        incident = uow.incidents.get(incident_id)
    assert incident.status == "resolved"
    assert incident.resolved_at == T0 + timedelta(hours=2)


def test_set_status_of_unknown_incident_is_not_found(store):
    with store.unit_of_work() as uow, pytest.raises(NotFound):
        uow.incidents.set_status("pd-nope", status="resolved", at=T0)


def test_timeline_ignores_duplicate_keys_and_keeps_time_order(store):
    incident_id = make_incident(store)
    def add(entries):
        return committed(store, lambda uow: uow.timeline.add_entries(incident_id=incident_id, entries=entries))

    assert add([entry("b", 5), entry("a", 1)]) == 2
    assert add([entry("a", 1, text="changed"), entry("c", 3), entry("c", 3)]) == 1
    assert add([]) == 0
    with store.unit_of_work() as uow:
        timeline = uow.timeline.list(incident_id)
    assert [e.key for e in timeline] == ["a", "c", "b"]
    assert timeline[0].text == "a"  # the first version of a fact wins
    assert all(isinstance(e, TimelineEntry) for e in timeline)


def test_timeline_refuses_naive_datetimes(store):
    incident_id = make_incident(store)
    naive = TimelineEntry(at=datetime(2024, 5, 14, 3, 0), source="t", text="t", key="k")
    with pytest.raises(Exception, match="naive"):
        committed(store, lambda uow: uow.timeline.add_entries(incident_id=incident_id, entries=[naive]))


def findings():
    return [
        Finding(
            rule="image-layer-waste",
            severity=Severity.HIGH,
            title="COPY . . layer is 1.8 GB",
            evidence={"bytes": 1_800_000_000, "paths": [".git", ".venv"]},
            remediation="add a .dockerignore",
            check="image",
        ),
        Finding(rule="node-disk-high", severity=Severity.CRITICAL, title="imagefs 97%", evidence={"node": "n1"}),
    ]


def test_diagnosis_is_recorded_once_per_dedupe_key(store, clock):
    incident_id = make_incident(store)
    run, created = committed(store, lambda uow: uow.diagnoses.record(
        dedupe_key="diagnose:pd-PGR0VU2",
        incident_id=incident_id,
        findings=findings(),
        started_at=clock.now(),
        playbook="default",
        target={"namespace": "prod", "name": "user-profile-service"},
    ))
    assert created
    assert list(run.findings) == findings()  # domain Findings, in the order given
    again, created = committed(store, lambda uow: uow.diagnoses.record(
        dedupe_key="diagnose:pd-PGR0VU2", incident_id=incident_id, findings=findings()[:1], started_at=clock.now()
    ))
    assert not created and again == run
    with store.unit_of_work() as uow:
        assert [r.id for r in uow.diagnoses.list_for_incident(incident_id)] == [run.id]


def test_a_diagnosis_keeps_its_probable_cause_and_rollback_decision(store, clock):
    from bot.domain import CauseLink, Confidence, ProbableCause, RollbackDecision

    incident_id = make_incident(store)
    cause = ProbableCause(
        summary="revision 5 (image 4.2 GB, 19.5× revision 4) → 3 nodes' imagefs full → registry 503",
        chain=(CauseLink("trigger", "revision 5 (image 4.2 GB, 19.5× revision 4)", ("image-size-regression",)),),
        supporting=("image-size-regression",), ruled_out=(), confidence=Confidence.HIGH,
    )
    decision = RollbackDecision(True, 4, "the image grew 19.5×; roll back to revision 4", ("image-size-regression",))
    with store.unit_of_work() as uow:
        run, _ = uow.diagnoses.record(dedupe_key="diagnose:cause", incident_id=incident_id, findings=findings(),
                                      started_at=clock.now(), cause=cause.to_json(), rollback=decision.to_json())
        uow.commit()
    with store.unit_of_work() as uow:
        (stored,) = uow.diagnoses.list_for_incident(incident_id)
    assert stored.cause == cause.to_json() and stored.rollback == decision.to_json()
    # A run recorded without them (as before issue 9) reads back as None, not as an empty decision.
    plain, _ = committed(store, lambda uow: uow.diagnoses.record(
        dedupe_key="diagnose:plain", incident_id=incident_id, findings=findings(), started_at=clock.now()))
    assert plain.cause is None and plain.rollback is None


def test_postmortem_versions_skip_identical_content(store):
    incident_id = make_incident(store)
    def save(body, author=None):
        return committed(store, lambda uow: uow.postmortems.save_version(
            incident_id=incident_id, body_markdown=body, author=author))

    v1, added = save("# Draft\n")
    assert added and v1.version == 1 and v1.status is PostmortemStatus.DRAFT
    assert v1.content_hash == hashlib.sha256(b"# Draft\n").hexdigest()
    same, added = save("# Draft\n")
    assert not added and same == v1
    v2, added = save("# Draft 2\n", author="alice")
    assert added and v2.version == 2 and v2.author == "alice"
    with store.unit_of_work() as uow:
        approved = uow.postmortems.set_status(incident_id=incident_id, version=2, status=PostmortemStatus.APPROVED)
        uow.commit()
    assert approved.status is PostmortemStatus.APPROVED
    with store.unit_of_work() as uow:
        assert [v.version for v in uow.postmortems.versions(incident_id)] == [1, 2]
        assert uow.postmortems.latest(incident_id).status is PostmortemStatus.APPROVED
        assert uow.postmortems.latest("pd-other") is None
        with pytest.raises(NotFound):
            uow.postmortems.set_status(incident_id=incident_id, version=9, status=PostmortemStatus.IN_REVIEW)


def test_raw_events_are_unique_on_delivery_id_and_on_event_id(store, clock):
    def add(delivery_id, event_id):
        with store.unit_of_work() as uow:
            new_id = uow.events.add(
                source="pagerduty",
                delivery_id=delivery_id,
                event_id=event_id,
                event_type="incident.triggered",
                headers={"X-Webhook-Id": delivery_id or ""},
                body=b'{"raw": true}\n',
                received_at=clock.now(),
            )
            uow.commit()
            return new_id

    first = add("w1", "e1")
    assert first is not None
    assert add("w1", "e2") is None  # a retry of the same delivery
    assert add("w2", "e1") is None  # the same event delivered under another webhook id
    assert add("w3", "e3") is not None
    with store.unit_of_work() as uow:
        assert uow.events.count() == 2
        stored = uow.events.get(first)
    assert stored.body == b'{"raw": true}\n' and stored.processed_at is None


def test_audit_log(store):
    with store.unit_of_work() as uow:
        uow.audit.record(actor="U123", action="rollback.requested", target="pd-PGR0VU2", details={"revision": 6})
        uow.commit()
    with store.unit_of_work() as uow:
        [record] = uow.audit.list(target="pd-PGR0VU2")
    assert (record.actor, record.action, record.details) == ("U123", "rollback.requested", {"revision": 6})


def test_nothing_is_written_without_commit(store):
    with store.unit_of_work() as uow:
        uow.audit.record(actor="a", action="b")
    with store.unit_of_work() as uow:
        assert uow.audit.list() == []
