"""Incident kinds the shipped scenarios do not cover (scenario files next to this test), diagnosed through
the official kubernetes client against the sim: each gets its SRE answer."""

from pathlib import Path

from bot.domain import Confidence
from bot.engine.diagnose import diagnose

HERE = Path(__file__).parent / "scenarios"


def only(d, rule):
    return [f for f in d.findings if f.rule == rule]


def test_a_nodefs_filled_with_logs_names_the_writer_and_blames_no_image(cluster, playbook):
    with cluster(HERE / "nodefs-logs.yaml") as c:
        d = diagnose("search-api", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    disks = only(d, "node-disk-high")
    assert [f.evidence["filesystem"] for f in disks] == ["nodefs", "nodefs"]
    assert all(f.evidence["attribution"] == "logs" and f.evidence["separate_imagefs"] for f in disks)
    assert disks[0].evidence["top_consumers"][0]["workload"] == "batch/chatty"
    advice = " ".join(f.remediation or "" for f in d.findings)
    assert "crictl" not in advice and "garbage-collecting" not in advice
    assert not d.rollback.recommended and d.rollback.reason.startswith("revision 5 has been live 5 d")
    assert d.cause.summary.startswith("container logs of batch/chatty (Deployment), 80 GB → nodefs 95% used on 2 nodes")
    assert d.cause.confidence is Confidence.HIGH


def test_a_nodefs_fill_without_the_summary_api_says_what_it_cannot_see(cluster, playbook):
    with cluster(HERE / "nodefs-logs.yaml") as c:
        d = diagnose("search-api", cluster=c.reader, playbook=playbook, node_proxy_enabled=False)
    disks = only(d, "node-disk-high")
    assert disks and all(f.evidence["attribution"] is None and "cannot be seen" in f.title for f in disks)
    assert not any("crictl" in (f.remediation or "") for f in d.findings)
    assert not d.rollback.recommended
    assert d.cause.chain[0].text.startswith("unknown consumer (cannot see which filesystem")
    assert d.cause.confidence is Confidence.LOW and d.cause.candidates


def test_a_memory_limit_cut_is_rolled_back(cluster, playbook):
    with cluster(HERE / "limit-cut.yaml") as c:
        d = diagnose("pricing", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    assert d.rollback.recommended and d.rollback.revision == 8 and d.rollback.implicated_by == ("crashloop",)
    assert "limits.memory 1Gi -> 128Mi" in d.rollback.reason
    assert d.cause.summary.startswith("revision 9 (limits.memory 1Gi -> 128Mi) → containers exit (OOMKilled, status 137)")
    assert [c.revision for c in d.rollback_candidates if c.recommended] == [8]


def test_a_tag_that_does_not_exist_is_undone(cluster, playbook):
    with cluster(HERE / "bad-tag.yaml") as c:
        d = diagnose("mailer", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    assert d.rollback.recommended and d.rollback.revision == 2
    assert d.rollback.implicated_by == ("image-pull-failing",)
    assert d.cause.summary.startswith("revision 3 (image mailer:2.4.0 -> mailer:2.5.O) → the image cannot be pulled "
                                      "(not found)")
