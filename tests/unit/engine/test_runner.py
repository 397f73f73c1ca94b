import threading

import pytest

from bot.domain import Finding, Severity
from bot.engine import registry
from bot.engine.cache import CachingClusterReader
from bot.checks.context import CheckContext
from tests.doubles.cluster_reader import FakeClusterReader, node
from bot.engine.playbook import parse_playbook
from bot.engine.runner import run_playbook
from bot.render.order import order_findings
from bot.domain import Target
from datetime import UTC, datetime


@pytest.fixture(autouse=True)
def short_stop_grace(monkeypatch):
    """The fake reader's slow reads ignore the check's deadline (as a client's socket read would), so the
    runner would wait out its whole stop grace for them on every timeout test; what these tests check is
    decided at the deadline, not after the grace."""
    from bot.engine import runner

    monkeypatch.setattr(runner, "STOP_GRACE_SECONDS", 0.05)


def ctx(reader):
    return CheckContext(
        service="svc", target=Target("fake", "prod", "Deployment", "svc"),
        cluster=CachingClusterReader(reader), now=datetime(2024, 5, 14, tzinfo=UTC),
    )


def book(*checks, timeout=5.0, check_timeout=5.0):
    return parse_playbook(
        {"name": "t", "triggers": ["diagnose"], "timeout_seconds": timeout, "check_timeout_seconds": check_timeout,
         "checks": [{"check": c} for c in checks]},
        source="t.yaml",
    )


def test_forbidden_check_becomes_a_finding_naming_the_permission_and_others_report():
    reader = FakeClusterReader(nodes=[node("n1", ready=False)], forbidden={"list_hpas", "get_deployment"})
    runs = {r.check: r for r in run_playbook(ctx(reader), book("nodes", "hpa"))}
    assert runs["nodes"].status == "ok"
    assert [f.rule for f in runs["nodes"].findings] == ["node-not-ready"]
    assert runs["hpa"].status == "forbidden"
    assert {f.rule for f in runs["hpa"].findings} == {"check-forbidden"}
    assert all(f.check == "hpa" for f in runs["hpa"].findings)
    # The list it went on without, and the get that stopped it.
    assert sorted(f.title for f in runs["hpa"].findings) == [
        "hpa: forbidden: needs get on deployments",
        "hpa: forbidden: needs list on horizontalpodautoscalers",
    ]


def test_the_same_missing_permission_is_one_finding_naming_every_check():
    from bot.engine.runner import merge_forbidden

    reader = FakeClusterReader(nodes=[node("n1")], forbidden={"get_deployment"})
    runs = run_playbook(ctx(reader), book("workload", "rollout"))
    (gap,) = merge_forbidden([f for r in runs for f in r.findings])
    assert gap.title == "rollout, workload: forbidden: needs get on deployments"


def test_slow_check_times_out_and_others_still_report():
    reader = FakeClusterReader(nodes=[node("n1", ready=False)], slow={"list_hpas": 2.0}, forbidden={"get_deployment"})
    runs = {r.check: r for r in run_playbook(ctx(reader), book("nodes", "hpa", check_timeout=0.2))}
    assert runs["nodes"].status == "ok"
    assert runs["hpa"].status == "timeout"
    assert runs["hpa"].findings[0].rule == "check-timeout"
    assert "no answer within 0.2s" in runs["hpa"].findings[0].title


def test_whole_run_timeout_caps_every_check():
    reader = FakeClusterReader(slow={"list_nodes": 2.0})
    (run,) = run_playbook(ctx(reader), book("nodes", timeout=0.2, check_timeout=10))
    assert run.status == "timeout" and run.findings[0].evidence["whole_run"] is True


def test_crashing_check_becomes_check_failed(monkeypatch):
    def boom(ctx, params):
        raise KeyError("status")

    spec = registry.CheckSpec("nodes", boom, registry.CHECKS["nodes"].params, (), "")
    monkeypatch.setitem(registry.CHECKS, "nodes", spec)
    (run,) = run_playbook(ctx(FakeClusterReader()), book("nodes"))
    assert run.status == "failed" and run.findings[0].rule == "check-failed"
    assert "KeyError" in run.findings[0].title


@pytest.mark.parametrize(("error", "not_found", "title"), [
    ("ImageNotFound", True, "image: nothing to examine: image reg/app:9 does not exist"),
    ("ImageReadError", None, "image: could not run: image reg/app:9 does not exist"),
])
def test_an_image_that_does_not_exist_is_told_apart_from_one_that_could_not_be_read(monkeypatch, error, not_found,
                                                                                    title):
    from bot import ports

    def read(ctx, params):
        raise getattr(ports, error)("image reg/app:9 does not exist")

    spec = registry.CheckSpec("image", read, registry.CHECKS["image"].params, (), "")
    monkeypatch.setitem(registry.CHECKS, "image", spec)
    (run,) = run_playbook(ctx(FakeClusterReader()), book("image"))
    (finding,) = run.findings
    assert run.status == "failed" and finding.rule == "check-failed" and finding.title == title
    assert finding.evidence.get("not_found") is not_found


def test_read_error_becomes_check_failed_with_the_message():
    reader = FakeClusterReader(failing={"list_nodes"})
    (run,) = run_playbook(ctx(reader), book("nodes"))
    assert run.findings[0].title == "nodes: could not run: list_nodes: connection refused"


def test_checks_share_one_fetch_of_each_list():
    reader = FakeClusterReader(nodes=[node("n1")], slow={"list_nodes": 0.05})
    run_playbook(ctx(reader), book("nodes", "disk"))
    assert reader.calls["list_nodes"] == 1


def test_cache_is_single_flight_under_concurrency():
    reader = FakeClusterReader(nodes=[node("n1")], slow={"list_nodes": 0.05})
    cached = CachingClusterReader(reader)
    threads = [threading.Thread(target=cached.list_nodes) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reader.calls["list_nodes"] == 1


def test_order_is_severity_then_evidence():
    f = lambda sev, rule, **ev: Finding(rule, sev, rule, ev)  # noqa: E731
    ordered = order_findings([
        f(Severity.LOW, "weak-probe"),
        f(Severity.CRITICAL, "node-disk-high", used_percent=91.0),
        f(Severity.CRITICAL, "node-disk-high", used_percent=97.0),
        f(Severity.HIGH, "evictions", count=3),
    ])
    assert [(x.rule, x.evidence.get("used_percent")) for x in ordered] == [
        ("node-disk-high", 97.0), ("node-disk-high", 91.0), ("evictions", None), ("weak-probe", None)
    ]


def test_each_check_duration_is_observed_even_when_it_times_out():
    from bot.metrics import REGISTRY

    def observed(check):
        count = REGISTRY.get_sample_value("coroner_check_duration_seconds_count", {"check": check}) or 0.0
        total = REGISTRY.get_sample_value("coroner_check_duration_seconds_sum", {"check": check}) or 0.0
        return count, total

    before = {c: observed(c) for c in ("nodes", "hpa")}
    reader = FakeClusterReader(nodes=[node("n1")], slow={"list_nodes": 0.2, "list_hpas": 2.0})
    run_playbook(ctx(reader), book("nodes", "hpa", check_timeout=0.5))
    (nodes_count, nodes_sum), (hpa_count, hpa_sum) = (observed("nodes"), observed("hpa"))
    assert nodes_count == before["nodes"][0] + 1
    assert 0.2 <= nodes_sum - before["nodes"][1] < 0.5
    assert hpa_count == before["hpa"][0] + 1
    assert 0.5 <= hpa_sum - before["hpa"][1] < 2.0  # the wait until its timeout, not the 2 s it would take


def test_a_check_logs_with_the_callers_context_and_its_own_name(monkeypatch):
    import logging

    from bot.logs import ContextFilter, log_context

    def logs(ctx, params):
        logging.getLogger("bot.checks.nodes").warning("looking")
        return []

    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    handler.addFilter(ContextFilter())
    logging.getLogger("bot.checks.nodes").addHandler(handler)
    monkeypatch.setitem(registry.CHECKS, "nodes", registry.CheckSpec("nodes", logs, registry.CHECKS["nodes"].params, (), ""))
    try:
        with log_context(job_id=9, incident_id="Q1"):
            run_playbook(ctx(FakeClusterReader()), book("nodes"))
    finally:
        logging.getLogger("bot.checks.nodes").removeHandler(handler)
    (record,) = records
    assert record.threadName == "check-nodes"
    assert (record.job_id, record.incident_id, record.check) == (9, "Q1", "nodes")


def test_on_check_done_hears_each_check_and_its_status_in_playbook_order():
    reader = FakeClusterReader(nodes=[node("n1", ready=False)], slow={"list_hpas": 2.0}, forbidden={"get_deployment"})
    heard: list[tuple[str, str]] = []
    runs = run_playbook(ctx(reader), book("nodes", "hpa", "workload", check_timeout=0.2),
                        on_check_done=lambda check, status: heard.append((check, status)))
    assert heard == [(r.check, r.status) for r in runs]
    assert heard == [("nodes", "ok"), ("hpa", "timeout"), ("workload", "forbidden")]


def test_checks_of_concurrent_diagnoses_share_one_process_wide_bound():
    """N workers × a playbook's checks cannot exceed CORONER_CHECK_CONCURRENCY threads at work."""
    from bot.engine import runner

    previous = runner.CHECK_SLOTS.size
    slots = runner.configure_check_slots(2)
    try:
        reader = FakeClusterReader(nodes=[node("n1", ready=False)], slow={"list_nodes": 0.2, "list_hpas": 0.2},
                                   forbidden={"get_deployment"})
        results = []
        threads = [threading.Thread(target=lambda: results.append(run_playbook(ctx(reader), book("nodes", "hpa"))))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(results) == 3 and all(r.status != "timeout" for runs in results for r in runs)
        assert slots.peak == 2
    finally:
        runner.configure_check_slots(previous)


def test_a_check_that_gets_no_slot_within_its_deadline_is_a_timeout():
    from bot.engine import runner

    previous = runner.CHECK_SLOTS.size
    slots = runner.configure_check_slots(1)
    try:
        assert slots.acquire(timeout=1)  # someone else holds the only slot
        runs = run_playbook(ctx(FakeClusterReader(nodes=[node("n1", ready=False)])), book("nodes", check_timeout=0.2))
        assert runs[0].status == "timeout"
        slots.release()
    finally:
        runner.configure_check_slots(previous)


def test_a_check_reading_replicasets_of_a_statefulset_is_not_assessed_not_failed(monkeypatch):
    """What a kind does not have is said as such, not as a failure and not as an all-clear."""
    from bot.checks import facts

    def reads_replicasets(ctx, params):
        return [Finding("rollout-stuck", Severity.HIGH, str(len(facts.replicasets(ctx))), {})]

    spec = registry.CheckSpec("rollout", reads_replicasets, registry.CHECKS["rollout"].params, (), "")
    monkeypatch.setitem(registry.CHECKS, "rollout", spec)
    sts = CheckContext(service="kafka", target=Target("fake", "data", "StatefulSet", "kafka"),
                       cluster=CachingClusterReader(FakeClusterReader()), now=datetime(2024, 5, 14, tzinfo=UTC))
    (run,) = run_playbook(sts, book("rollout"))
    assert run.status == "not-assessed"
    (finding,) = run.findings
    assert (finding.rule, finding.severity) == ("check-not-assessed", Severity.INFO)
    assert finding.title.startswith("rollout: not assessed for a StatefulSet: ")
    assert finding.evidence["kind"] == "StatefulSet"
