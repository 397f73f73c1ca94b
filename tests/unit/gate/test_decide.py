"""decide() on image reports of several shapes, built by the real autopsy."""

from __future__ import annotations

import json

import pytest
from tests.unit.gate.gate_reports import BASE, MB, report

from bot.gate import ClusterPressure, GatePolicy, NodeImageFs, decide
from bot.images.autopsy import ImageReport

GB = 1000 * MB
APP = ("/bin/sh -c #(nop) COPY file:app in /app ", [("app/main.py", 2 * MB)])


MiB = 1 << 20
SMALL, BIG = 220 * MiB, 4_509_715_660  # revision 4 and revision 5 of the outage


def small() -> ImageReport:
    return report("app:v1", [BASE, ("/bin/sh -c #(nop) COPY dir:app in /app ", [("app/main.py", SMALL - 6 * MB)])])


def test_an_image_grown_19_times_fails_and_names_the_layers_that_grew():
    dockerfile = "FROM debian\nRUN apt-get install -y cuda-toolkit-12-1\nCOPY . /app\n"
    grown = report("app:v2", [
        BASE,
        ("/bin/sh -c apt-get install -y cuda-toolkit-12-1", [("usr/local/cuda/lib64/libcublas.so", 3 << 30)]),
        ("/bin/sh -c #(nop) COPY dir:app in /app ",
         [("app/data/users.csv", BIG - (3 << 30) - 8 * MB), ("app/main.py", 2 * MB)]),
    ], dockerfile=dockerfile)
    decision = decide(grown, small())
    assert decision.verdict == "fail"
    (growth,) = [r for r in decision.reasons if r.code == "image-growth"]
    assert growth.message.startswith("4.2 GB against 220 MB uncompressed (19.5x, +4 GB): layer 1 (RUN apt-get install")
    assert growth.evidence["growth_bytes"] == BIG - SMALL
    layers = growth.evidence["layers"]
    assert [(layer["index"], layer["bytes"]) for layer in layers] == [(1, 3 << 30), (2, BIG - (3 << 30) - 6 * MB)]
    assert layers[0]["top_paths"][0]["path"] == "usr/local/cuda"
    assert "RUN apt-get install -y cuda-toolkit-12-1" in layers[0]["instruction"]
    assert growth.line == 2  # the Dockerfile line of the largest culprit


@pytest.mark.parametrize(
    ("before", "after", "fails"),
    [
        (3000 * MB, 3100 * MB, False),  # +100 MB but only 1.03x: a big image gaining a little passes
        (10 * MB, 60 * MB, False),  # 6x but only +50 MB
        (200 * MB, 300 * MB, True),  # exactly 1.5x and +100 MB: the limits are inclusive
        (200 * MB, 299 * MB, False),
        (500 * MB, 400 * MB, False),  # shrinking never fails
    ],
)
def test_growth_needs_both_the_factor_and_the_bytes(before, after, fails):
    reference = report("app:a", [BASE, ("/bin/sh -c make a", [("opt/a.bin", before - 6 * MB)])])
    candidate = report("app:b", [BASE, ("/bin/sh -c make b", [("opt/b.bin", after - 6 * MB)])])
    decision = decide(candidate, reference)
    assert (decision.verdict == "fail") is fails
    assert [r.code for r in decision.reasons] == (["image-growth"] if fails else [])


def test_the_policy_moves_the_growth_limits():
    reference = report("app:a", [BASE, ("/bin/sh -c make a", [("opt/a.bin", 94 * MB)])])
    candidate = report("app:b", [BASE, ("/bin/sh -c make b", [("opt/b.bin", 144 * MB)])])
    assert decide(candidate, reference).verdict == "pass"
    assert decide(candidate, reference, policy=GatePolicy(min_growth_bytes=40 * MB)).verdict == "fail"
    assert decide(candidate, reference, policy=GatePolicy(min_growth_bytes=40 * MB, max_growth=2)).verdict == "pass"


def test_a_vcs_directory_the_reference_lacks_is_a_new_critical_finding():
    candidate = report("app:v2", [BASE, ("/bin/sh -c #(nop) COPY dir:src in /app ",
                                          [("app/.git/objects/pack/p.pack", 3 * MB), ("app/main.py", 2 * MB)])])
    decision = decide(candidate, small())
    (reason,) = decision.reasons
    assert reason.code == "new-critical-finding"
    assert reason.evidence["rule"] == "vcs-directory"
    assert reason.evidence["new"] == ["app/.git"]
    assert reason.evidence["layers"][0]["index"] == 1
    assert reason.message.startswith("vcs-directory: ")


def test_a_finding_the_reference_already_ships_is_not_this_changes_fault():
    git = ("/bin/sh -c #(nop) COPY dir:src in /app ", [("app/.git/HEAD", 1000), ("app/main.py", 2 * MB)])
    reference = report("app:v1", [BASE, git])
    candidate = report("app:v2", [BASE, git, APP])
    assert decide(candidate, reference).verdict == "pass"
    # ...but a second repository is new
    more = report("app:v3", [BASE, git, ("/bin/sh -c #(nop) COPY dir:lib in /lib ", [("lib/.hg/store", 1000)])])
    (reason,) = decide(more, reference).reasons
    assert reason.evidence["new"] == ["lib/.hg"]


def test_secrets_are_critical_whether_in_a_file_or_the_history():
    candidate = report("app:v2", [BASE, ("/bin/sh -c #(nop) COPY dir:src in /app ", [("app/.env", 120)]),
                                  ("|1 AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY /bin/sh -c make",
                                   [("app/bin", 1 * MB)])])
    decision = decide(candidate, small())
    rules = sorted(r.evidence["rule"] for r in decision.reasons)
    assert rules == ["secret-file", "secret-in-history"]
    assert "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY" not in json.dumps(decision.to_json())


def test_a_build_toolchain_counts_above_the_policys_threshold_only():
    gcc = ("/bin/sh -c apt-get install -y build-essential",
           [("usr/lib/gcc/x86_64-linux-gnu/12/cc1", 30 * MB), ("usr/bin/gcc-12", 1 * MB)])
    candidate = report("app:v2", [BASE, gcc])
    assert any(f.rule == "build-toolchain" for f in candidate.findings)  # the image rule sees it...
    assert decide(candidate, small()).verdict == "pass"  # ...but 31 MB is under the default 50 MB
    (reason,) = decide(candidate, small(), policy=GatePolicy(toolchain_min_bytes=20 * MB)).reasons
    assert reason.evidence["rule"] == "build-toolchain" and reason.evidence["bytes"] == 31 * MB


def test_without_a_reference_only_findings_count_and_the_decision_says_so():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/huge.bin", 5 * GB)])])
    decision = decide(candidate, None)
    assert decision.verdict == "pass" and decision.reference is None
    assert any("no reference image" in note for note in decision.notes)


def nodes(*used_percent: float, has_image: tuple[bool, ...] = (), capacity: int = 100 * GB) -> tuple[NodeImageFs, ...]:
    return tuple(
        NodeImageFs(f"node-{i}", capacity, int(capacity * pct / 100), has_image[i] if has_image else False, "summary")
        for i, pct in enumerate(used_percent)
    )


def pressure(node_figures: tuple[NodeImageFs, ...], replicas: int = 30, source: str = "summary") -> ClusterPressure:
    return ClusterPressure("Deployment prod/api", replicas, node_figures, source, notes=("HPA api max 30",))


def test_pull_pressure_fails_on_the_nodes_that_would_cross_the_thresholds():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/model.bin", 4200 * MB - 6 * MB)])])
    # 30 pods over 6 nodes: 5 each, 21 GB per node; the three at 90%+ cross, the three at 50-60% do not
    decision = decide(candidate, candidate, pressure=pressure(nodes(50, 55, 60, 90, 92, 95)))
    (reason,) = decision.reasons
    assert reason.code == "pull-pressure"
    assert reason.message.startswith("15 pods × 3.9 GB against the free imagefs on the three nodes (21.4 GB free: node-5, node-4, node-3)")
    ev = reason.evidence
    assert (ev["pods_pulling"], ev["nodes_without_image"], ev["bytes"]) == (30, 6, 30 * 4200 * MB)
    assert [n["node"] for n in ev["nodes"]] == ["node-5", "node-4", "node-3"]
    assert all(n["pods"] == 5 and n["crosses"] == ["image-gc-high", "imagefs-eviction"] for n in ev["nodes"])
    assert "HPA api max 30" in decision.notes
    assert [layer["index"] for layer in ev["layers"]] == [1, 0]  # the layers every pull carries, heaviest first


def test_nodes_that_already_hold_the_image_pull_nothing():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/model.bin", 4 * GB)])])
    held = nodes(90, 92, 95, 60, has_image=(True, True, True, False))
    # one node of four pulls: ceil(30 x 1/4) = 8 pods x 4.006 GB = 32 GB onto the node at 60%
    (reason,) = decide(candidate, candidate, pressure=pressure(held)).reasons
    assert reason.evidence["pods_pulling"] == 8
    (crossing,) = reason.evidence["nodes"]
    assert (crossing["node"], crossing["pods"], crossing["used_percent_after"]) == ("node-3", 8, 92.0)
    assert crossing["crosses"] == ["image-gc-high", "imagefs-eviction"]
    # at 50% the same 32 GB ends at 82%: under both thresholds
    roomy = nodes(90, 92, 95, 50, has_image=(True, True, True, False))
    assert decide(candidate, candidate, pressure=pressure(roomy)).verdict == "pass"


def test_roomy_nodes_or_a_cached_image_pass_with_a_note():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/model.bin", 400 * MB)])])
    decision = decide(candidate, candidate, pressure=pressure(nodes(40, 50, 60)))
    assert decision.verdict == "pass"
    assert any(note.startswith("pull pressure: 30 pods x") for note in decision.notes)
    everywhere = decide(candidate, candidate, pressure=pressure(nodes(99, 99, has_image=(True, True))))
    assert everywhere.verdict == "pass"


def test_the_eviction_threshold_is_checked_on_its_own():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/model.bin", 1 * GB - 6 * MB)])])
    # one pod onto a node at 84.5%: 85.5% used, 14.5% available
    policy = GatePolicy(image_gc_high_percent=95)
    (reason,) = decide(candidate, candidate, pressure=pressure(nodes(84.5), replicas=1), policy=policy).reasons
    assert reason.evidence["nodes"][0]["crosses"] == ["imagefs-eviction"]
    assert "imagefs.available<15%" in reason.message and "image-GC" not in reason.message


def test_the_fallback_source_is_carried_into_the_evidence():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/model.bin", 4 * GB)])])
    figures = tuple(NodeImageFs(f"n{i}", 20 * GB, 15 * GB, False, "status.images") for i in range(2))
    (reason,) = decide(candidate, None, pressure=pressure(figures, replicas=4, source="status.images")).reasons
    assert reason.evidence["source"] == "status.images"
    assert reason.evidence["nodes"][0]["source"] == "status.images"


def test_the_decision_is_json_with_one_vocabulary():
    candidate = report("app:v2", [BASE, ("/bin/sh -c make", [("opt/model.bin", 4 * GB)]),
                                  ("/bin/sh -c #(nop) COPY dir:src in /app ", [("app/.git/HEAD", 100)])])
    decision = decide(candidate, small(), pressure=pressure(nodes(90, 90)))
    data = json.loads(json.dumps(decision.to_json()))
    assert data["verdict"] == "fail"
    assert [r["code"] for r in data["reasons"]] == ["image-growth", "new-critical-finding", "pull-pressure"]
    assert data["candidate"] == "app:v2" and data["reference"] == "app:v1"


def test_critical_rules_are_the_image_rules_own_ids():
    import re
    from pathlib import Path

    from bot.gate.decision import CRITICAL_RULES

    source = (Path(__file__).resolve().parents[3] / "bot" / "images" / "rules.py").read_text()
    emitted = set(re.findall(r'_finding\(\s*"([a-z0-9-]+)"', source))
    assert set(CRITICAL_RULES) <= emitted


def test_a_secret_in_the_config_points_at_no_layer_and_no_line():
    candidate = report("app:v2", [BASE, APP], env=("DATABASE_PASSWORD=hunter2-but-longer",),
                       dockerfile="FROM scratch\nCOPY . /app\n")
    (reason,) = decide(candidate, small()).reasons
    assert reason.evidence["rule"] == "secret-in-history" and reason.evidence["new"] == ["DATABASE_PASSWORD"]
    assert reason.evidence["layers"] == [] and reason.line is None
    assert "hunter2" not in json.dumps(decide(candidate, small()).to_json())
