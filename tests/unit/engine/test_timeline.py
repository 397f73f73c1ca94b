from datetime import UTC, datetime, timedelta

from bot import timeline as tl
from bot.domain import Finding, Severity, TimelineEntry
from tests.doubles.cluster_reader import event, node

T = datetime(2024, 5, 14, 2, 58, 32, tzinfo=UTC)
MSG = 'Failed to pull image "r:5000/app:v5": received unexpected HTTP status: 503 Service Unavailable'


def test_same_failure_on_several_pods_is_one_line_with_the_pods_named():
    events = [event(f"app-7d9f-{s}", "Failed", MSG, count=4, at=T + timedelta(seconds=i)) for i, s in enumerate("abc")]
    (entry,) = tl.event_entries(events)
    assert entry.at == T
    assert entry.text.startswith("3 pods (app-7d9f-a, app-7d9f-b, app-7d9f-c): Failed: Failed to pull image")
    assert "(×12" in entry.text


def test_routine_events_are_left_out_unless_asked():
    events = [event("p", "Scheduled", "Successfully assigned prod/p to n1", type="Normal", at=T),
              event("p", "Pulled", 'Successfully pulled image "a" in 4m12s', type="Normal", at=T)]
    assert [e.text.split(": ")[1] for e in tl.event_entries(events)] == ["Pulled"]
    assert len(tl.event_entries(events, routine=True)) == 2


def test_keys_are_stable_so_gathering_twice_adds_nothing():
    events = [event("p1", "BackOff", "Back-off restarting failed container", at=T, uid="u1")]
    first = tl.event_entries(events)
    again = tl.event_entries(list(events))
    assert [e.key for e in first] == [e.key for e in again] == ["k8s-event:u1"]
    assert len(tl.merge(first, again)) == 1


def test_condition_transitions_and_node_events_that_restate_them():
    n = node("n1", ready=False, pressure=("DiskPressure",), since=T)
    entries = tl.condition_entries([n])
    assert sorted(e.text for e in entries) == [
        "Node n1 DiskPressure (KubeletHasDiskPressure)",
        "Node n1 NotReady (KubeletNotReady: container runtime is down)",
    ]
    node_events = [
        event("n1", "NodeNotReady", "Node n1 status is now: NodeNotReady", kind="Node", type="Normal", at=T),
        event("n1", "ImageGCFailed", "failed to garbage collect required amount of images", kind="Node", at=T),
    ]
    assert [e.text.split(": ")[1] for e in tl.node_event_entries(node_events, [n])] == ["ImageGCFailed"]
    # Once the node is Ready again, the event is the only record of the transition: it stays.
    assert len(tl.node_event_entries(node_events, [node("n1")])) == 2


def test_merge_orders_by_time_then_source_and_keeps_the_latest():
    a = TimelineEntry(T, "kubernetes", "b", "k1")
    b = TimelineEntry(T, "rollout", "a", "k2")
    c = TimelineEntry(T - timedelta(minutes=1), "node", "c", "k3")
    assert [e.key for e in tl.merge([a, b, c])] == ["k3", "k2", "k1"]
    assert [e.key for e in tl.merge([a, b, c], limit=2)] == ["k2", "k1"]


def test_finding_entries():
    f = Finding("node-disk-high", Severity.CRITICAL, "Node n1 imagefs 97.8% used")
    (entry,) = tl.finding_entries([f], at=T, incident="INC1")
    assert entry.source == "coroner" and entry.key == "finding:INC1:node-disk-high:Node n1 imagefs 97.8% used"
