import json

from tests.doubles.images import FakeImageReader, entries

from bot.images.autopsy import autopsy
from bot.images.model import ImageConfig
from bot.images.rules import Thresholds

MB = 1_000_000

DOCKERFILE = """FROM python:3.12
ARG PIP_TOKEN
WORKDIR /app
RUN apt-get update && \\
    apt-get install -y build-essential
COPY . .
RUN rm -rf /app/tmp
CMD ["python", "main.py"]
"""


def incident_reader() -> FakeImageReader:
    reader = FakeImageReader()
    base = entries([("usr/", 0), ("usr/lib/libc.so", 5 * MB)])
    workdir = entries([("app/", 0)])
    apt = entries([
        ("var/lib/apt/lists/deb.debian.org_Packages", 40 * MB), ("var/lib/apt/lists/lock", 0),
        ("usr/lib/gcc/x86_64-linux-gnu/12/cc1", 30 * MB), ("usr/bin/gcc-12", 1 * MB),
        ("usr/local/cuda-12.1/lib64/libcublas.so", 900 * MB),
    ])
    copy = entries([
        ("app/.git/objects/pack/pack.pack", 800 * MB), ("app/.venv/pyvenv.cfg", 100),
        ("app/.venv/lib/python3.12/site-packages/torch/lib.so", 600 * MB),
        ("app/data/users.csv", 400 * MB), ("app/.env", 120), ("app/tmp/scratch.bin", 20 * MB), ("app/main.py", 2000),
    ])
    cleanup = entries([("app/", 0), ("app/.wh.tmp", 0)])
    reader.add(
        "app:v2",
        [base, workdir, apt, copy, cleanup],
        history=[
            ("/bin/sh -c #(nop) ADD file:x in / ", False),
            ("/bin/sh -c #(nop)  ARG PIP_TOKEN", True),
            ("/bin/sh -c #(nop) WORKDIR /app", False),
            ("|1 PIP_TOKEN=tok-123456 /bin/sh -c apt-get update &&     apt-get install -y build-essential", False),
            ("/bin/sh -c #(nop) COPY dir:abc in . ", False),
            ("|1 PIP_TOKEN=tok-123456 /bin/sh -c rm -rf /app/tmp", False),
            ('/bin/sh -c #(nop)  CMD ["python" "main.py"]', True),
        ],
        config=ImageConfig(user=None, env=("PATH=/usr/bin",)),
    )
    reader.add("app:v1", [base, workdir, entries([("app/main.py", 2000)])],
               history=[("/bin/sh -c #(nop) ADD file:x in / ", False), ("/bin/sh -c #(nop) WORKDIR /app", False),
                        ("/bin/sh -c #(nop) COPY dir:abc in . ", False)],
               sizes=[5 * MB, 0, 215 * MB])
    return reader


def test_incident_image_finds_every_culprit_with_layer_instruction_and_bytes():
    report = autopsy(incident_reader(), "app:v2", dockerfile_text=DOCKERFILE, against="app:v1")
    by_rule = {}
    for finding in report.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    expected = {"fat-layer", "vcs-directory", "host-dependencies", "data-files", "package-cache-left",
                "build-toolchain", "secret-file", "secret-in-history", "wasted-space", "runs-as-root",
                "no-healthcheck", "size-regression"}
    assert expected <= set(by_rule)
    vcs = by_rule["vcs-directory"][0]
    assert vcs.evidence["layer"] == 3 and vcs.evidence["bytes"] == 800 * MB
    assert vcs.evidence["instruction"] == "COPY . ." and vcs.evidence["line"] == 6
    assert by_rule["host-dependencies"][0].evidence["paths"] == ["app/.venv"]
    assert by_rule["package-cache-left"][0].evidence["line"] == 4
    assert by_rule["wasted-space"][0].evidence["bytes"] == 20 * MB
    assert by_rule["secret-file"][0].evidence["path"] == "app/.env"
    toolchain = by_rule["build-toolchain"][0]
    assert toolchain.evidence["bytes"] == 931 * MB
    regression = by_rule["size-regression"][0]
    assert regression.evidence["growth_factor"] > 10 and regression.evidence["layer"] == 3


def test_json_has_the_interface_fields_and_no_secret_values():
    report = autopsy(incident_reader(), "app:v2", against="app:v1")
    data = report.to_json()
    assert set(data["layers"][0]) >= {"index", "size_bytes", "created_by", "instruction", "line", "top_paths"}
    assert set(data["findings"][0]) >= {"rule", "severity", "layer", "bytes", "message"}
    assert set(data["totals"]) >= {"size_bytes", "reclaimable_bytes", "dive_efficiency", "dive_wasted_bytes"}
    assert data["comparison"]["growth_factor"] and data["comparison"]["layers"]
    assert data["totals"]["reclaimable_bytes"] == 20 * MB
    assert data["dockerfile"]["source"] == "reconstructed"
    assert data["dockerfile"]["reconstructed"].startswith("# RECONSTRUCTED")
    dumped = json.dumps(data)
    assert "tok-123456" not in dumped
    assert data["layers"][3]["top_paths"][0]["path"] == "app/.git"


def test_recorded_evidence_keeps_the_reader_size_when_contents_are_partial():
    reader = FakeImageReader()
    reader.add("rec:1", [entries([("app/.git/pack", 800 * MB)])], sizes=[1800 * MB])
    report = autopsy(reader, "rec:1", thresholds=Thresholds())
    assert report.layers[0].size_bytes == 1800 * MB
    assert report.totals.size_bytes == 1800 * MB


def test_clean_image_has_no_findings():
    reader = FakeImageReader()
    reader.add("ok:1", [entries([("app/main.py", 1000)])], history=[("COPY main.py /app/ # buildkit", False)])
    report = autopsy(reader, "ok:1")
    assert report.findings == ()
