"""The gate's renderings: GitHub workflow commands that cannot be broken out of, text, JSON."""

from __future__ import annotations

import json

from bot.gate import GateDecision, GateReason
from bot.gate.render import render_github, render_json, render_text

REASON = GateReason(
    code="image-growth",
    message="4.2 GB against 220 MB: 100% of it\nin COPY . .\r::error::injected",
    evidence={"layers": [{"index": 4, "instruction": "COPY . .", "bytes": 1_900_000_000, "line": 9,
                          "top_paths": [{"path": "app/.git", "bytes": 838_860_800, "files": 12}]}]},
    line=9,
)
FAIL = GateDecision("fail", (REASON,), "r/app:v5", "r/app:v4", notes=("no HPA: 3 replicas",))


def test_github_commands_escape_messages_and_properties():
    out = render_github(FAIL, dockerfile="svc,a:b/Dockerfile").splitlines()
    assert out[0] == ("::error file=svc%2Ca%3Ab/Dockerfile,line=9,title=coroner gate%3A image-growth::"
                      "4.2 GB against 220 MB: 100%25 of it%0Ain COPY . .%0D::error::injected")
    assert out[1] == "::notice title=coroner gate::no HPA: 3 replicas"
    assert out[2] == "::notice title=coroner gate::coroner gate: fail r/app:v5 against r/app:v4"
    assert len(out) == 3  # one line per command: a message cannot start a command of its own


def test_without_a_dockerfile_the_errors_name_no_file():
    (first, *_) = render_github(FAIL, dockerfile=None).splitlines()
    assert first.startswith("::error title=coroner gate%3A image-growth::")


def test_text_shows_the_culprit_layers_and_their_paths():
    text = render_text(FAIL)
    assert text.startswith("coroner gate: FAIL r/app:v5 against r/app:v4\n  image-growth: 4.2 GB against 220 MB")
    assert "      layer 4 1.8 GB  COPY . . (Dockerfile line 9)\n" in text
    assert "         800 MB  /app/.git\n" in text
    assert text.endswith("note: no HPA: 3 replicas\n")


def test_json_is_the_decision_and_redacted():
    secret = GateDecision("fail", (GateReason("new-critical-finding", "ENV DB_PASSWORD=hunter2secret", {}),),
                          "r/app:v5", None)
    data = json.loads(render_json(secret))
    assert data["verdict"] == "fail" and data["reference"] is None and "fix" not in data
    assert "hunter2secret" not in json.dumps(data)


def test_a_culprit_from_the_base_image_is_annotated_on_the_from_line():
    from tests.unit.gate.gate_reports import BASE, MB, report

    from bot.gate import decide

    dockerfile = "ARG CUDA=12.1\nFROM nvidia/cuda:${CUDA}-devel\nCOPY . /app\n"
    app = ("COPY . /app # buildkit", [("app/main.py", 2 * MB)])
    cuda = ("/bin/sh -c apt-get install -y cuda-toolkit", [("usr/local/cuda/lib64/libcublas.so", 900 * MB)])
    grown = report("app:v2", [BASE, cuda, app], dockerfile=dockerfile)
    decision = decide(grown, report("app:v1", [BASE, app]))
    (growth,) = [r for r in decision.reasons if r.code == "image-growth"]
    assert growth.line == 2
    assert "layer 1 (FROM nvidia/cuda:${CUDA}-devel (base image: RUN apt-get" in growth.message
    assert growth.evidence["layers"][0]["instruction"] == (
        "FROM nvidia/cuda:${CUDA}-devel (base image: RUN apt-get install -y cuda-toolkit)")
    (error,) = [line for line in render_github(decision, dockerfile="Dockerfile").splitlines()
                if "image-growth::" in line]
    assert error.startswith("::error file=Dockerfile,line=2,title=coroner gate%3A image-growth::")
