"""Credentials planted in a Dockerfile and in an image's history never reach a sink.

The image is built by hand (one tar layer per history entry) and pushed to the real docker-registry; the
Dockerfile that goes with it sits in a temporary directory. Every way Coroner shows or keeps that text is
then run, and its output searched for the planted values: `coroner image` (text and JSON), `coroner lint`
(text, JSON, SARIF), `coroner fix` (diff and JSON), the engine's diagnosis (text and JSON), the Slack
blocks, the rendered postmortem, and the rows the store wrote, read back with SQL.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bot.domain import Finding, Incident, Severity, Target, TimelineEntry
from bot.engine.diagnose import Diagnosis
from bot.images.autopsy import autopsy
from bot.images.registry_reader import RegistryImageReader
from bot.postmortem.evidence import ImageSummary
from bot.render.text import render_text
from bot.render.slack import diagnosis_message
from bot.slack.blocks import PostmortemNotice, postmortem_message
from bot.slack.incident_blocks import root_message, thread_line
from bot.store import Store
from tests.cli_process import CORONER, cli_env

pytestmark = [pytest.mark.registry, pytest.mark.slow]  # slow: whole coroner processes against a registry

PLANTED = ("hunter2-planted", "tok3n-planted", "opt-planted", "bearer-planted", "pa55-planted", "envtok-planted")
# What a redaction must leave alone: where a secret lives is not the secret.
KEPT = "--password-file=/run/secrets/db"

INSTRUCTIONS = (
    "ENV DB_PASSWORD=pa55-planted",
    "RUN curl -fsSL -u admin:hunter2-planted https://artifacts.example.com/app.tgz -o /tmp/app.tgz",
    "RUN git clone https://ci:tok3n-planted@git.example.com/app.git /src && app-cli login --password=opt-planted",
    'RUN curl -H "Authorization: Bearer bearer-planted" https://api.example.com/ping',
    f"RUN app-cli migrate {KEPT}",
    "RUN pip install flask==3.0.0",
)
DOCKERFILE = "FROM python:3.12-slim\n" + "\n".join(INSTRUCTIONS) + '\nCMD ["python", "app.py"]\n'
T0 = datetime(2024, 5, 14, 3, 0, 0, tzinfo=UTC)


def leaks(text: str) -> list[str]:
    return [value for value in PLANTED if value in text]


# --- the image --------------------------------------------------------------------------------------


def _layer(name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = f"{name}\n".encode() * 100
        info = tarfile.TarInfo(f"app/{name}")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _push_blob(client: httpx.Client, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = client.post(f"/v2/{repository}/blobs/uploads/")
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    separator = "&" if "?" in location else "?"  # the upload URL carries its own state in the query
    done = client.put(f"{location}{separator}digest={digest}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    return digest


@pytest.fixture(scope="module")
def image_ref(registry_url: str) -> str:
    """An image whose history holds the planted credentials (BuildKit's `created_by` wording), and whose
    config sets a secret-named variable, pushed with the OCI distribution API."""
    repository = f"coroner-redact-{uuid.uuid4().hex[:8]}"
    history = [{"created": "2024-05-14T02:00:00Z", "created_by": "ADD rootfs.tar / # buildkit"}]
    layers = [_layer("base")]
    for i, instruction in enumerate(INSTRUCTIONS):
        keyword, _, body = instruction.partition(" ")
        if keyword == "ENV":
            history.append({"created": "2024-05-14T02:01:00Z", "created_by": instruction, "empty_layer": True})
            continue
        history.append({"created": "2024-05-14T02:02:00Z", "created_by": f"RUN /bin/sh -c {body} # buildkit"})
        layers.append(_layer(f"step{i}"))
    with httpx.Client(base_url=f"http://{registry_url}", timeout=30) as client:
        descriptors = []
        for data in layers:
            digest = _push_blob(client, repository, data)
            descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest,
                                "size": len(data)})
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2024-05-14T02:03:00Z",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", "API_TOKEN=envtok-planted"], "Cmd": ["python", "app.py"]},
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
            "history": history,
        }).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": _push_blob(client, repository, config), "size": len(config)},
            "layers": descriptors,
        }
        put = client.put(f"/v2/{repository}/manifests/v1", content=json.dumps(manifest).encode(),
                         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert put.status_code == 201, put.text
    return f"{registry_url}/{repository}:v1"


@pytest.fixture(scope="module")
def report(image_ref: str):
    return autopsy(RegistryImageReader(), image_ref, dockerfile_text=DOCKERFILE)


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(DOCKERFILE)
    return path


def coroner(*args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env()
    cli = CORONER
    return subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=120)


def raw_history_findings(report) -> list[Finding]:
    """Findings that quote the history as it is, the way a check written tomorrow might: the sinks must
    not rely on every producer having redacted its text."""
    return [
        Finding(rule="fat-layer", severity=Severity.HIGH, title=f"Layer made by {h.created_by}",
                evidence={"created_by": h.created_by, "env": list(report.manifest.config.env)},
                remediation=f"Rewrite `{h.created_by}`", check="images")
        for h in report.manifest.history
    ]


# --- the sinks --------------------------------------------------------------------------------------


def test_the_planted_values_are_really_in_the_image(report) -> None:
    history = " ".join(h.created_by for h in report.manifest.history) + " ".join(report.manifest.config.env)
    assert not set(PLANTED) - set(leaks(history) + leaks(DOCKERFILE)), "the test would prove nothing"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_coroner_image(image_ref: str, dockerfile: Path, fmt: str) -> None:
    proc = coroner("image", image_ref, "--source", "registry", "--dockerfile", str(dockerfile), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert leaks(proc.stdout + proc.stderr) == []
    assert "secret-in-history" in proc.stdout  # the finding is there; only the value is gone


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_coroner_lint(dockerfile: Path, fmt: str) -> None:
    proc = coroner("lint", "--format", fmt, str(dockerfile))
    assert proc.returncode == 1, proc.stderr
    assert leaks(proc.stdout + proc.stderr) == []


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_coroner_fix(dockerfile: Path, fmt: str) -> None:
    proc = coroner("fix", "--format", fmt, str(dockerfile))
    assert proc.returncode == 0, proc.stderr
    assert "--no-cache-dir" in proc.stdout  # a real diff, with the planted lines around it
    assert leaks(proc.stdout + proc.stderr) == []
    assert KEPT in proc.stdout  # not over-redacted


def test_coroner_fix_write_keeps_the_file_as_it_is(dockerfile: Path) -> None:
    assert coroner("fix", "--write", str(dockerfile)).returncode == 0
    assert set(leaks(dockerfile.read_text())) == set(leaks(DOCKERFILE))  # redaction is for display only


def _diagnosis(report) -> Diagnosis:
    timeline = tuple(
        TimelineEntry(at=T0 + timedelta(minutes=i), source="image", text=h.created_by, key=f"h{i}")
        for i, h in enumerate(report.manifest.history)
    )
    return Diagnosis(service="app", target=Target(context=None, namespace="prod", kind="Deployment", name="app"),
                     findings=tuple(report.findings) + tuple(raw_history_findings(report)), rollback_candidates=(),
                     timeline=timeline, duration_ms=12)


def test_engine_text_and_json(report) -> None:
    diagnosis = _diagnosis(report)
    assert leaks(render_text(diagnosis)) == []
    assert leaks(json.dumps(diagnosis.to_json())) == []


def test_slack_blocks(report) -> None:
    message = diagnosis_message(_diagnosis(report))
    assert leaks(json.dumps(message.to_json())) == []
    notice = PostmortemNotice(incident_id="pd-1", incident_title="app down", version=1, status="draft",
                              content_hash="0" * 64, summary="Root cause: " + INSTRUCTIONS[2])
    assert leaks(json.dumps(postmortem_message(notice).to_json())) == []
    incident = Incident(id="pd-1", source="pagerduty", external_id="P1", title="app down", service="app",
                        status="triggered", urgency="high", created_at=T0, probable_cause=INSTRUCTIONS[1])
    assert leaks(json.dumps(root_message(incident, now=T0, pagerduty_buttons=True).to_json())) == []
    for entry in _diagnosis(report).timeline:
        assert leaks(json.dumps(thread_line(entry).to_json())) == []


def _bundle(report) -> dict:
    diagnosis = _diagnosis(report)
    image = ImageSummary.from_manifest(report.manifest)  # instructions straight from the history
    raw_diff = "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -3,2 +3,2 @@\n " + INSTRUCTIONS[1] + "\n-" + INSTRUCTIONS[2] \
        + "\n+" + INSTRUCTIONS[2] + " --no-cache-dir\n"
    return {
        "incident": {"id": "pd-1", "source": "pagerduty", "title": "app down", "status": "resolved",
                     "created_at": T0.isoformat(), "resolved_at": (T0 + timedelta(hours=1)).isoformat()},
        "timeline": [e.to_json() for e in diagnosis.timeline],
        "findings": [f.to_json() for f in diagnosis.findings],
        "image": image.to_json(),
        "dockerfile_fix": {"diff": raw_diff, "notes": [f"left alone: {INSTRUCTIONS[3]}"], "path": "Dockerfile"},
    }


def test_rendered_postmortem(report, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(_bundle(report)))
    assert leaks(bundle.read_text()), "the bundle must hold the values for the render to prove anything"
    proc = coroner("postmortem", "render", str(bundle))
    assert proc.returncode == 0, proc.stderr
    assert leaks(proc.stdout) == []
    assert "Secret value of" in proc.stdout  # the secret-in-history finding made it, value redacted


def test_stored_rows(report, database_url: str) -> None:
    store = Store.from_url(database_url)
    try:
        diagnosis = _diagnosis(report)
        bundle = _bundle(report)
        with store.unit_of_work() as uow:
            uow.incidents.add_if_absent(Incident(id="pd-1", source="pagerduty", external_id="P1", title="app down",
                                                 service="app", status="triggered", urgency="high", created_at=T0))
            uow.incidents.set_probable_cause("pd-1", diagnosis.findings[-1].title)
            uow.diagnoses.record(dedupe_key="d1", incident_id="pd-1", findings=diagnosis.findings, started_at=T0,
                                 target={"name": "app"}, image=bundle["image"], dockerfile_fix=bundle["dockerfile_fix"])
            uow.timeline.add_entries(incident_id="pd-1", entries=diagnosis.timeline)
            body = "# Postmortem\n\n" + "\n".join(f"- `{line}`" for line in INSTRUCTIONS) + "\n"
            uow.postmortems.save_version(incident_id="pd-1", body_markdown=body)
            uow.commit()
        dumped = []
        with store.engine.connect() as conn:
            for table in ("incidents", "diagnosis_runs", "findings", "timeline_entries", "postmortem_versions"):
                rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
                assert rows, table
                dumped += [json.dumps([str(v) for v in row]) for row in rows]
        assert leaks("\n".join(dumped)) == []
        assert "curl -fsSL -u admin:***" in "\n".join(dumped)  # what was stored is still readable
    finally:
        store.dispose()
