import json
from datetime import UTC, datetime

import pytest

from bot.engine.diagnose import diagnose
from bot.engine.playbook import load_playbooks
from bot.engine.resolve import UnknownService
from bot.render.text import render_text
from bot.settings import packaged_dir


class FixedClock:
    def now(self):
        return datetime(2024, 5, 14, 3, 0, tzinfo=UTC)


@pytest.fixture
def playbook():
    return load_playbooks(packaged_dir("playbooks"))["diagnose"]


def test_meltdown_json_has_exactly_the_documented_shape(meltdown, playbook):
    d = diagnose("user-profile-service", cluster=meltdown, playbook=playbook, node_proxy_enabled=True, clock=FixedClock())
    out = json.loads(json.dumps(d.to_json()))
    assert list(out) == ["service", "target", "findings", "rollback_candidates", "rollback", "cause", "timeline",
                         "duration_ms"]
    assert list(out["rollback"]) == ["recommended", "revision", "reason", "implicated_by"]
    assert out["rollback"]["recommended"] is True and out["rollback"]["revision"] == 6
    assert list(out["cause"]) == ["summary", "chain", "supporting", "ruled_out", "confidence", "candidates"]
    assert out["cause"]["summary"].startswith("revision 7 (image 4.2 GB, 19.5× revision 6) → ")
    assert out["target"] == {"context": "fake", "namespace": "prod", "kind": "Deployment", "name": "user-profile-service"}
    assert all(list(f) == ["rule", "severity", "title", "evidence"] for f in out["findings"])
    assert out["rollback_candidates"][0] == {
        "revision": 6, "image": "registry.example.com/shop/user-profile-service:v6",
        "size_bytes": 230_686_720, "healthy": True,
    }
    assert all(list(e) == ["at", "source", "text"] for e in out["timeline"])
    rules = [f["rule"] for f in out["findings"]]
    assert rules[0] in ("node-disk-high", "image-size-regression", "node-not-ready", "pull-pressure", "registry-errors")
    assert {"node-disk-high", "image-size-regression", "rollback-candidate", "pull-pressure", "hpa-scaling",
            "registry-errors", "evictions", "node-not-ready", "node-pressure"} <= set(rules)
    severities = [f["severity"] for f in out["findings"]]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)
    # Each list was fetched once for all the checks and the timeline.
    assert meltdown.calls["list_nodes"] == 1 and meltdown.calls["list_replicasets"] == 1
    # One summary per node, plus per-pod stats for the nodes in trouble (disk and neighbours share them):
    # the three full nodes and node-4, where the service's pods were evicted.
    assert meltdown.calls["node_fs_summary"] == 6 + 4


def test_timeline_is_ordered_and_reads_like_the_report(meltdown, playbook):
    d = diagnose("user-profile-service", cluster=meltdown, playbook=playbook, clock=FixedClock())
    times = [e.at for e in d.timeline]
    assert times == sorted(times)
    sources = {e.source for e in d.timeline}
    assert {"rollout", "node", "kubernetes"} <= sources
    text = render_text(d)
    assert "[2024-05-14 02:30:00] Deployment prod/user-profile-service revision 7 rolled out" in text
    # The same condition on three nodes is one line, naming the first.
    assert "[2024-05-14 02:50:00] 3 nodes DiskPressure, first node-1 (KubeletHasDiskPressure)\n" in text
    assert "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=6" in text
    assert "Recommended: revision 6, registry.example.com/shop/user-profile-service:v6 (220 MB)" in text
    assert "other-service" not in text
    # It leads with the probable cause, then numbers the findings in the diagnosis's order.
    assert text.split("\n")[2].startswith(
        "Probable cause (high confidence): revision 7 (image 4.2 GB, 19.5× revision 6) → 3 nodes' disk full")
    assert "   1. [CRITICAL] image-size-regression: Revision 7's image is 4.2 GB" in text


def test_unknown_service(meltdown, playbook):
    with pytest.raises(UnknownService, match="user-profile-service"):
        diagnose("user-profile", cluster=meltdown, playbook=playbook)


def test_a_failed_resolution_leaves_no_prefetch_running(meltdown, playbook):
    # A prefetch still reading when the CLI exits can abort the interpreter (exit 134, not 3).
    import threading

    meltdown.slow["list_nodes"] = 0.3
    with pytest.raises(UnknownService):
        diagnose("user-profile", cluster=meltdown, playbook=playbook)
    assert [t.name for t in threading.enumerate() if t.name.startswith("prefetch-")] == []


def test_healthy_service_has_no_serious_findings(healthy, playbook):
    d = diagnose("user-profile-service", cluster=healthy, playbook=playbook, node_proxy_enabled=True)
    assert [f.rule for f in d.findings if f.severity.rank <= 2] == []
    assert d.rollback_candidates == ()
    assert "Not recommended: no earlier revision to roll back to." in render_text(d)
