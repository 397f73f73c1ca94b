"""A gate that cannot see a layer cannot vouch for it: the critical-finding rule is `undecided` when a
layer the reference does not ship was not read (a registry reader out of its byte budget); growth and
pull pressure are decided as before."""

from __future__ import annotations

import json

from tests.unit.gate.gate_reports import BASE, MB, report

from bot.gate import ClusterPressure, NodeImageFs, decide
from bot.gate.render import render_text

GB = 1000 * MB
APP = ("/bin/sh -c #(nop) COPY dir:app in /app ", [("app/main.py", 2 * MB)])
# Read, this layer fails the gate (a secret file); unread, nothing would say so.
SECRET = ("/bin/sh -c make release", [("app/.env", 120), ("app/release.bin", 1 * MB)])
TOOLS = ("/bin/sh -c apt-get install -y build-essential", [("usr/lib/gcc/x86_64-linux-gnu/12/cc1", 80 * MB)])


def reference():
    return report("app:v1", [BASE, APP], compressed=0.4)


def test_the_secret_is_caught_when_its_layer_is_read():
    (reason,) = decide(report("app:v2", [BASE, APP, SECRET], compressed=0.4), reference()).reasons
    assert reason.evidence["rule"] == "secret-file"


def test_a_layer_out_of_the_budget_makes_the_critical_finding_rule_undecided_naming_it():
    candidate = report("app:v2", [BASE, APP, SECRET, TOOLS], compressed=0.4, contents=2)
    decision = decide(candidate, reference())
    assert decision.verdict == "undecided" and decision.reasons == ()
    assert decision.undecided == (
        "new-critical-finding: layers 2 (RUN make release) and 3 (RUN apt-get install -y build-essential) of app:v2 "
        "were not read, and the reference does not ship them: a secret file, a VCS directory or a build toolchain "
        "in them cannot be ruled out",
    )
    assert json.loads(json.dumps(decision.to_json()))["undecided"] == list(decision.undecided)
    text = render_text(decision)
    assert "layers 2 (RUN make release) and 3" in text and "\n" not in decision.undecided[0]


def test_unread_layers_the_reference_ships_too_cannot_hold_a_new_finding():
    """A layer of the same digest in both images: whatever it holds, the reference ships it (old debt)."""
    candidate = report("app:v2", [BASE, APP], compressed=0.4, contents=False)
    decision = decide(candidate, reference())
    assert decision.verdict == "pass" and decision.undecided == ()
    assert any("layers 0 and 1 of app:v2 were not read" in note and "reference ships them too" in note
               for note in decision.notes)


def test_without_a_reference_every_unread_layer_counts():
    candidate = report("app:v2", [BASE, APP], compressed=0.4, contents=1)
    (why,) = decide(candidate, None).undecided
    assert why.startswith("new-critical-finding: layer 1 (COPY . /app) of app:v2 was not read: ")


def test_a_reason_that_fails_still_fails_and_the_unread_layers_are_still_named():
    candidate = report("app:v2", [BASE, APP, ("/bin/sh -c #(nop) COPY dir:src in /src ", [("src/.git/HEAD", 100)]),
                                  SECRET], compressed=0.4, contents=3)
    decision = decide(candidate, reference())
    assert decision.verdict == "fail"
    assert [r.evidence["rule"] for r in decision.reasons] == ["vcs-directory"]
    assert [why.split(" (", 1)[0] for why in decision.undecided] == ["new-critical-finding: layer 3"]


def test_growth_and_pull_pressure_are_decided_on_the_sizes_as_before():
    grown = ("/bin/sh -c make model", [("opt/model.bin", 3 * GB)])
    candidate = report("app:v2", [BASE, APP, grown], compressed=0.4, contents=2)
    nodes = tuple(NodeImageFs(f"n{i}", 100 * GB, 83 * GB, False, "summary") for i in range(3))
    decision = decide(candidate, reference(), pressure=ClusterPressure("Deployment prod/api", 9, nodes, "summary"))
    assert [r.code for r in decision.reasons] == ["image-growth", "pull-pressure"]
    assert decision.verdict == "fail" and decision.size_measure == "compressed"
    assert [why.split(":", 1)[0] for why in decision.undecided] == ["new-critical-finding"]
