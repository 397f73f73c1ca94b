"""Roll back only when the change is to blame: incident kinds on built snapshots, through the engine."""

import pytest

from bot.domain import Confidence
from bot.render.text import render_text
from tests.doubles.cluster_reader import event
from tests.unit.reasoning.world import World, ago


def rules(d):
    return [f.rule for f in d.findings]


def nodes(w: World, count: int = 3, prefix: str = "ip-10-0-1-") -> list[str]:
    return [w.add_node(f"{prefix}{i}").name for i in range(1, count + 1)]


def assert_consistent(d):
    """What every sink reads agrees: the decision, the candidates' flag, the findings."""
    flagged = [c.revision for c in d.rollback_candidates if c.recommended]
    if d.rollback.recommended:
        assert flagged == [d.rollback.revision]
        assert "rollback-candidate" in rules(d) and "rollback-not-indicated" not in rules(d)
    else:
        assert flagged == [] and d.recommended is None
        assert "rollback-candidate" not in rules(d)


@pytest.mark.parametrize(("replicas", "live_days"), [(4, 7), (12, 2), (1, 30)])
def test_a_healthy_service_is_never_recommended_a_rollback(replicas, live_days):
    w = World(namespace="payments", name="ledger", replicas=replicas)
    names = nodes(w)
    w.revision(20, ago(days=live_days + 10), image="registry.internal:5000/ledger:20")
    rs = w.revision(21, ago(days=live_days), image="registry.internal:5000/ledger:21", current=True)
    for i in range(replicas):
        w.pod(rs, f"p{i}", names[i % len(names)])
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended and d.rollback.revision is None
    assert "healthy" in d.rollback.reason and f"{replicas}/{replicas} pods ready" in d.rollback.reason
    (info,) = [f for f in d.findings if f.rule == "rollback-not-indicated"]
    assert info.severity.value == "info" and info.title == f"No rollback: {d.rollback.reason}"
    assert d.cause.summary.startswith("no fault found in payments/ledger")
    text = render_text(d)
    assert d.rollback.reason in text and "Recommended:" not in text
    assert d.cause.confidence is Confidence.HIGH


@pytest.mark.parametrize(("name", "variable"), [("checkout-api", "DATABASE_URL"), ("orders", "KAFKA_BROKERS")])
def test_a_config_change_that_crash_loops_is_rolled_back_and_the_change_named(name, variable):
    w = World(namespace="payments", name=name)
    names = nodes(w)
    w.revision(6, ago(days=6), env={variable: "postgres://db-1"})
    w.pod(w.revision(7, ago(minutes=25), env={variable: "postgres://db-2"}, current=True), "a", names[0],
          waiting="CrashLoopBackOff", restarts=7, last="Error")
    rs = w.reader.replicasets[-1]
    for i in range(1, 4):
        w.pod(rs, f"b{i}", names[i % 3], waiting="CrashLoopBackOff", restarts=6, last="Error")
    d = w.diagnose()
    assert_consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 6
    assert d.rollback.implicated_by == ("crashloop",)
    assert f"env {variable}" in d.rollback.reason and "4 crash-looping" in d.rollback.reason
    assert d.cause.chain[0].role == "trigger" and d.cause.chain[0].text == f"revision 7 (env {variable})"
    assert d.cause.summary.startswith(f"revision 7 (env {variable}) → containers exit (Error)")
    assert d.cause.confidence is Confidence.HIGH
    assert "the nodes: none is under pressure or NotReady" in d.cause.ruled_out


def test_a_memory_limit_cut_that_oom_kills_is_rolled_back():
    w = World()
    names = nodes(w, 2)
    w.revision(3, ago(days=3), memory_limit="1Gi")
    rs = w.revision(4, ago(hours=2), memory_limit="256Mi", current=True)
    for i in range(4):
        w.pod(rs, f"p{i}", names[i % 2], waiting="CrashLoopBackOff", restarts=9, last="OOMKilled")
    d = w.diagnose()
    assert d.rollback.recommended and d.rollback.revision == 3
    assert "limits.memory 1Gi -> 256Mi" in d.rollback.reason and "OOM-killed at their memory limit" in d.rollback.reason


def test_a_tag_that_does_not_exist_is_rolled_back():
    w = World(name="search")
    names = nodes(w, 2)
    w.revision(8, ago(days=9), image="registry.internal:5000/search:8")
    rs = w.revision(9, ago(minutes=10), image="registry.internal:5000/search:9-typo", current=True)
    for i in range(3):
        w.pod(rs, f"p{i}", names[i % 2], phase="Pending", waiting="ErrImagePull",
              message='failed to pull and unpack image "registry.internal:5000/search:9-typo": not found')
    d = w.diagnose()
    assert_consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 8
    assert d.rollback.implicated_by == ("image-pull-failing",)
    assert d.cause.summary.startswith("revision 9 (image search:8 -> search:9-typo) → the image cannot be pulled (not found)")


def test_a_registry_down_for_everyone_does_not_blame_the_new_revision():
    w = World(name="search")
    names = nodes(w, 2)
    w.revision(8, ago(days=9))
    rs = w.revision(9, ago(minutes=10), current=True)
    for i in range(3):
        w.pod(rs, f"p{i}", names[i % 2], phase="Pending", waiting="ImagePullBackOff",
              message='Back-off pulling image: received unexpected HTTP status: 503 Service Unavailable')
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert "3 failing pulls on registry errors" in d.rollback.reason


def test_pods_that_begin_to_crash_days_after_the_rollout_do_not_blame_it():
    w = World(name="profile")
    names = nodes(w, 2)
    w.revision(30, ago(days=12), image="registry.internal:5000/profile:30")
    rs = w.revision(31, ago(days=5, hours=2), image="registry.internal:5000/profile:31", current=True)
    for i in range(3):
        pod = w.pod(rs, f"p{i}", names[i % 2], created=ago(days=5), waiting="CrashLoopBackOff", restarts=12,
                    last="Error")
        w.warn(pod, "BackOff", "Back-off restarting failed container app", at=ago(minutes=30), count=20)
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 31 had been live 5 d before its pods began to fail (crash-loop)")
    assert d.cause.confidence is Confidence.LOW and d.cause.chain[0].text == d.rollback.reason
    assert d.cause.chain[1].text.startswith("containers exit (Error")  # how they fail, though not what changed
    assert d.cause.candidates  # says it cannot single out one cause, and lists what it saw


def test_a_previous_revision_that_failed_the_same_way_is_no_way_back():
    w = World(name="billing")
    names = nodes(w, 2)
    rs6 = w.revision(6, ago(days=2))
    rs7 = w.revision(7, ago(hours=1), current=True)
    w.reader.events.append(event(f"{rs6.name}-old", "BackOff", "Back-off restarting failed container app",
                                 namespace="shop", at=ago(days=1), count=40))
    for i in range(2):
        w.pod(rs7, f"p{i}", names[i], waiting="CrashLoopBackOff", restarts=8, last="Error")
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 6 failed the same way (crash-loop) while it was live")


def test_an_image_that_grew_without_anything_suffering_is_not_rolled_back():
    w = World(name="web")
    old, new = "registry.internal:5000/web:1", "registry.internal:5000/web:2"
    for i in range(2):
        w.add_node(f"n{i}", images=[((new,), 3 * 1024**3), ((old,), 200 * 1024**2)])
    w.revision(1, ago(days=3), image=old)
    rs = w.revision(2, ago(hours=3), image=new, current=True)
    for i in range(4):
        w.pod(rs, f"p{i}", f"n{i % 2}")
    d = w.diagnose()
    assert "image-size-regression" in rules(d)
    assert_consistent(d)
    assert not d.rollback.recommended and "healthy" in d.rollback.reason


def test_evictions_on_not_ready_nodes_do_not_blame_a_revision_live_for_days():
    w = World(name="catalog")
    w.add_node("good-1")
    w.add_node("bad-1", ready=False, since=ago(minutes=20))
    w.revision(40, ago(days=20))
    rs = w.revision(41, ago(days=4), current=True)
    w.pod(rs, "a", "good-1")
    w.pod(rs, "b", "bad-1", ready=False)
    w.pod(rs, "c", "bad-1", ready=False)
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 41 has been live 4 d; its pods fail only for reasons outside it "
                                        "(2 on NotReady nodes)")


def test_trouble_on_nodes_it_does_not_run_on_and_config_findings_are_not_a_fault():
    w = World(namespace="web", name="landing", replicas=3)
    names = nodes(w, 2)
    far = w.add_node("far-1", pressure=("DiskPressure",), since=ago(minutes=9)).name
    w.other("batch", "StatefulSet", "etl", "etl-0", far, evicted="ephemeral-storage")
    w.revision(2, ago(days=20), memory_limit=None)
    rs = w.revision(3, ago(days=6), memory_limit=None, current=True)  # no-memory-limit: hygiene, not a fault
    for i in range(3):
        w.pod(rs, f"p{i}", names[i % 2])
    d = w.diagnose()
    assert "no-memory-limit" in rules(d) and "node-pressure" in rules(d)
    assert_consistent(d)
    assert not d.rollback.recommended and "is healthy (3/3 pods ready)" in d.rollback.reason
    assert d.cause.summary == "no fault found in web/landing: its pods are ready and its nodes are healthy"
    assert "node trouble elsewhere (far-1): none of its pods runs there" in d.cause.ruled_out


def test_evidence_that_singles_out_no_cause_says_so_and_lists_the_candidates():
    w = World(name="thumbs", replicas=2)
    names = nodes(w, 2)
    w.revision(4, ago(days=9))
    rs = w.revision(5, ago(days=2), current=True)
    pods = [w.pod(rs, f"p{i}", names[i]) for i in range(2)]
    for i, pod in enumerate(pods):  # slow pulls, and nothing else wrong
        w.reader.events.append(event(pod.name, "Pulled", f'Successfully pulled image "x" in 2m{10 + i}s. '
                                     "Image size: 900000000 bytes.", namespace="shop", type="Normal", at=ago(days=2)))
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert d.cause.summary == "no single cause stands out; candidates: image-pull-slow"
    assert d.cause.confidence is Confidence.LOW and d.cause.chain == ()
    assert d.cause.candidates[0].endswith("(image-pull-slow)")


def test_a_revision_rolled_forward_over_an_outage_that_began_days_after_the_one_before_is_not_rolled_back():
    # Revision 6 ran 4 days, then crash-looped (a dependency); revision 7 was rolled out as a "fix" and
    # crash-loops the same way. Revision 5 is the last good one, but the trouble did not start with a rollout.
    w = World(name="billing")
    names = nodes(w, 2)
    w.revision(5, ago(days=20))
    rs6 = w.revision(6, ago(days=4))
    rs7 = w.revision(7, ago(minutes=20), current=True)
    w.reader.events.append(event(f"{rs6.name}-old", "BackOff", "Back-off restarting failed container app",
                                 namespace="shop", at=ago(hours=1), count=30))
    for i in range(2):
        w.pod(rs7, f"p{i}", names[i], waiting="CrashLoopBackOff", restarts=6, last="Error")
    d = w.diagnose()
    assert_consistent(d)
    assert not d.rollback.recommended
    assert d.rollback.reason.startswith("revision 6 had been live 3 d before its pods began to fail (crash-loop)")


def test_a_run_of_bad_revisions_rolls_back_past_all_of_them():
    w = World(name="billing")
    names = nodes(w, 2)
    w.revision(5, ago(days=20), env={"MODE": "a"})
    rs6 = w.revision(6, ago(minutes=50), env={"MODE": "b"})
    w.revision(7, ago(minutes=30), env={"MODE": "c"})
    rs8 = w.revision(8, ago(minutes=10), env={"MODE": "d"}, current=True)
    for rs, at in ((rs6, ago(minutes=49)), (w.reader.replicasets[2], ago(minutes=29))):
        w.reader.events.append(event(f"{rs.name}-old", "BackOff", "Back-off restarting failed container app",
                                     namespace="shop", at=at, count=10))
    for i in range(2):
        w.pod(rs8, f"p{i}", names[i], waiting="CrashLoopBackOff", restarts=6, last="Error")
    d = w.diagnose()
    assert_consistent(d)
    assert d.rollback.recommended and d.rollback.revision == 5
    assert "where revision 5's did not (revisions 6 and 7 after it failed too)" in d.rollback.reason
    assert d.cause.summary.startswith("revisions 6, 7 and 8 (env MODE)")
