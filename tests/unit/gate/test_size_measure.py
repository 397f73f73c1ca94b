"""The gate compares like with like: both images' uncompressed sizes (what a node's imagefs holds), else
both compressed (what a pull transfers), never one of each; and it says which."""

from __future__ import annotations

import json

from tests.unit.gate.gate_reports import BASE, MB, report

from bot.gate import ClusterPressure, NodeImageFs, decide
from bot.gate.render import render_json, render_text

GB = 1000 * MB


def app(size: int, name: str = "app") -> tuple[str, list[tuple[str, int]]]:
    return (f"/bin/sh -c make {name}", [(f"opt/{name}.bin", size)])


def test_an_engine_image_against_a_registry_manifest_is_not_judged_on_mixed_sizes():
    # 400 MB uncompressed both; the reference's 40 % gzip blobs (162 MB) are all the registry told.
    candidate = report("app:v2", [BASE, app(394 * MB)])  # the Docker engine: uncompressed only
    reference = report("app:v1", [BASE, app(394 * MB, "old")], compressed=0.4, contents=False)
    decision = decide(candidate, reference)
    assert not [r for r in decision.reasons if r.code == "image-growth"]  # 400 MB vs 160 MB is no growth
    assert decision.verdict == "undecided"
    (why,) = decision.undecided
    assert "image-growth" in why and "uncompressed" in why and "compressed" in why
    assert decision.size_measure is None


def test_a_reference_read_from_the_manifest_only_is_compared_compressed():
    # Same contents, same compression: 300 MB against 300 MB uncompressed, 120 MB against 120 MB compressed.
    candidate = report("app:v2", [BASE, app(294 * MB)], compressed=0.4)
    reference = report("app:v1", [BASE, app(294 * MB, "old")], compressed=0.4, contents=False)
    decision = decide(candidate, reference)
    assert decision.verdict == "pass", decision.reasons
    assert decision.size_measure == "compressed"
    assert any("compressed" in note and "app:v1" in note for note in decision.notes)


def test_growth_in_compressed_sizes_fails_and_its_evidence_is_all_compressed():
    candidate = report("app:v2", [BASE, app(994 * MB, "big")], compressed=0.5)
    reference = report("app:v1", [BASE, app(194 * MB)], compressed=0.5, contents=False)
    decision = decide(candidate, reference)
    (growth,) = decision.reasons
    assert growth.evidence["size_measure"] == "compressed"
    assert growth.evidence["bytes"] == 500 * MB and growth.evidence["reference_bytes"] == 100 * MB
    assert growth.evidence["growth_factor"] == 5.0
    assert [layer["bytes"] for layer in growth.evidence["layers"]] == [497 * MB]  # the culprit, compressed too
    assert "compressed" in growth.message


def test_both_read_through_are_compared_uncompressed_what_the_nodes_store():
    candidate = report("app:v2", [BASE, app(994 * MB, "big")], compressed=0.3)
    reference = report("app:v1", [BASE, app(194 * MB)], compressed=0.6)
    decision = decide(candidate, reference)
    (growth,) = decision.reasons
    assert decision.size_measure == growth.evidence["size_measure"] == "uncompressed"
    assert growth.evidence["bytes"] == 1000 * MB and growth.evidence["reference_bytes"] == 200 * MB
    assert growth.evidence["layers"][0]["bytes"] == 994 * MB
    assert growth.message.startswith("954 MB against 191 MB uncompressed (5.0x")
    text = render_text(decision)
    assert "954 MB against 191 MB uncompressed" in text
    assert json.loads(render_json(decision))["size_measure"] == "uncompressed"


def pressure() -> ClusterPressure:
    nodes = tuple(NodeImageFs(f"n{i}", 100 * GB, 82 * GB, False, "summary") for i in range(3))
    return ClusterPressure("Deployment prod/api", 9, nodes, "summary")


def test_pull_pressure_charges_the_nodes_uncompressed_and_counts_the_transfer_compressed():
    candidate = report("app:v2", [BASE, app(994 * MB, "big")], compressed=0.4)
    (reason,) = decide(candidate, None, pressure=pressure()).reasons
    assert reason.code == "pull-pressure"
    assert reason.evidence["size_measure"] == "uncompressed"
    assert reason.evidence["image_bytes"] == 1000 * MB and reason.evidence["bytes"] == 9 * 1000 * MB
    assert reason.evidence["compressed_bytes"] == 9 * int(994 * MB * 0.4 + 6 * MB * 0.4)


def test_pull_pressure_without_the_contents_uses_the_compressed_size_as_a_lower_bound():
    candidate = report("app:v2", [BASE, app(2494 * MB, "big")], compressed=0.4, contents=False)
    decision = decide(candidate, None, pressure=pressure())
    (reason,) = decision.reasons
    assert reason.evidence["size_measure"] == "compressed"
    assert reason.evidence["image_bytes"] == int(2494 * MB * 0.4) + int(6 * MB * 0.4)
    assert any("lower bound" in note for note in decision.notes)
