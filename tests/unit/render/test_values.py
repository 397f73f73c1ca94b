"""Evidence values as a person reads them (bot/render/values.py): the one formatter of the draft's
appendix (and so of its web view) and of the facts on a Slack finding line."""

from __future__ import annotations

from bot.render.values import evidence_pairs, format_value

# The blast radius of a memory-pressure incident, as the neighbours check records it.
BLAST_RADIUS = {
    "how": {"evicted": 2, "preempted": 5},
    "nodes": [
        {"node": "ip-10-3-1-2", "resource": "memory", "conditions": ["MemoryPressure"], "hit": ["api-7f-qjp4s"],
         "consumers": [{"workload": "analytics/reindex", "memory_bytes": 31568009625, "no_memory_limit": True},
                       {"workload": "monitoring/node-exporter", "memory_bytes": 39845888}]},
        {"node": "ip-10-3-1-1", "resource": "memory", "conditions": ["MemoryPressure"], "hit": [],
         "consumers": [{"workload": "analytics/reindex", "memory_bytes": 31568009625}]},
    ],
    "scope": "nodes",
    "workloads_hit": {"shop/recommendation-api": 2, "edge/gateway": 7},
}


def test_scalars_read_like_people_write_them() -> None:
    assert format_value("bytes_if_max", 67645734900) == "63 GB"
    assert format_value("imagefs_used_ratio", 0.978) == "98%"
    assert format_value("ratio", 19.55) == "19.6×"
    assert format_value("diff", "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1 +1 @@\n") == "--- a/Dockerfile … (3 lines)"
    assert format_value("nodes", ["a", "b"]) == "a, b"
    assert format_value("paths", [str(i) for i in range(12)]) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … 2 more"
    assert format_value("paused", False) == "false"
    assert format_value("pods", []) == "none"


def test_a_time_reads_as_a_stamp_and_other_strings_stay_as_they_are() -> None:
    assert format_value("since", "2024-07-09T11:36:40+02:00") == "2024-07-09 09:36:40"
    assert format_value("failing_since", "2024-07-09T09:38:05Z") == "2024-07-09 09:38:05"
    assert format_value("tag", "2024-07-09T09:38") == "2024-07-09T09:38"  # no offset: not known to be UTC
    assert format_value("tag", "2024-07-09T99:99:99+00:00") == "2024-07-09T99:99:99+00:00"


def test_a_count_per_name_reads_most_first_never_as_json() -> None:
    assert format_value("workloads_hit", BLAST_RADIUS["workloads_hit"]) == "edge/gateway: 7, shop/recommendation-api: 2"
    assert format_value("reasons", {"Pending": 3, "CrashLoopBackOff": 3}) == "CrashLoopBackOff: 3, Pending: 3"
    assert format_value("messages", {"The node was low on memory. ": 3}) == "The node was low on memory.: 3"
    assert format_value("per_node", {f"n{i}": i for i in range(12)}).endswith(", … 2 more")
    assert format_value("breakdown_bytes", {"images": 5589512040, "logs": 1024}) == "images: 5.2 GB, logs: 1 KB"


def test_a_record_reads_as_its_name_and_facts_and_a_nested_record_as_its_name() -> None:
    text = format_value("nodes", BLAST_RADIUS["nodes"])
    assert text == ("ip-10-3-1-2 (conditions: MemoryPressure; consumers: analytics/reindex, monitoring/node-exporter; "
                    "hit: api-7f-qjp4s; resource: memory), "
                    "ip-10-3-1-1 (conditions: MemoryPressure; consumers: analytics/reindex; resource: memory)")
    candidate = {"revision": 17, "image": "reg/app:1", "healthy": True, "size_bytes": 44354764,
                 "live_from": "2024-06-18T13:10:00+00:00", "live_until": None}
    assert format_value("candidates", [candidate]) == (
        "revision 17 (healthy: true; image: reg/app:1; live_from: 2024-06-18 13:10:00; size_bytes: 42.3 MB)")


def test_a_record_without_a_name_reads_as_its_facts_and_deep_collections_are_counted() -> None:
    decision = {"reason": "live 3 d", "recommended": False, "revision": None, "implicated_by": []}
    assert format_value("decision", decision) == "reason: live 3 d; recommended: false"
    also = {"rule": "no-healthcheck", "check": "dockerfile",
            "evidence": {"line": 1, "stages": [0, 1], "layers": [{"index": 0}], "env": {"A": "1"}}}
    assert format_value("also", also) == (
        "no-healthcheck (check: dockerfile; evidence: env: 1 item, layers: 1 item, line: 1, stages: 0, 1)")
    assert format_value("sizes", {"memory_bytes": 1024, "logs_bytes": 2048}) == "logs_bytes: 2 KB; memory_bytes: 1 KB"


def test_no_evidence_value_renders_as_json() -> None:
    for key, text in evidence_pairs(BLAST_RADIUS):
        assert not any(mark in text for mark in ('{"', '["', '":')), (key, text)
