"""Incidents other than the demo's, through `coroner serve`'s own app and workers: for each scenario, a
signed page (triggered -> acknowledged -> resolved) over HTTP, the diagnosis in the Slack thread and on
the root, the PagerDuty note, and the postmortem draft. What each should say is the SRE answer written at
the top of the scenario's YAML: rollback only when the service's own change is the cause, the culprit
workload named, the right resource, and the team's Dockerfile findings as hygiene when the image is not
what broke."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.incidents.simulate import delivery_headers, incident_event_body, service_id_for
from bot.server import serving
from bot.settings import Settings
from bot.sim.images import ScenarioImageReader
from bot.sim.model import Scenario
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim
from bot.slack.health import start_auth_check
from bot.web.links import PostmortemLinks
from bot.wiring import build, build_app
from bot.worker import start_workers
from tests.doubles.pagerduty_api import incident_story, trigger_entry
from tests.integration.slack.test_incident_lifecycle import text_of, wait_until

pytestmark = pytest.mark.slow  # the whole serve pipeline per scenario, with Slack, PagerDuty and the sim

SECRET = "pd-other-incidents-secret"
PD_ID = "POTHER1"
TITLE_SUFFIX = " <!channel> <b>"  # untrusted text in the page's title: Slack must show it, not act on it

# The team's Dockerfile for a service whose image is not the incident's cause: a one-stage build that
# sends the whole checkout (no .dockerignore) and keeps the toolchain in the image. Its findings are
# hygiene for the draft, never the root cause.
GO_DOCKERFILE = """\
FROM golang:1.22
WORKDIR /src
COPY . .
RUN go build -o /app/{service} ./cmd/{service}
USER 10001
ENTRYPOINT ["/app/{service}"]
"""


@dataclass(frozen=True)
class Expected:
    """The SRE answer for one scenario (the comment at the top of its YAML), as a user checks it in Slack,
    in the PagerDuty note and in the draft."""

    scenario: str
    cause: tuple[str, ...]  # words the probable cause must hold: the culprit workload, the resource
    rollback_revision: int | None  # the revision to roll back to, or None: no rollback advised anywhere
    p0: tuple[str, ...] = ()  # words the draft's first P0 action item must hold: the fix is aimed at the culprit
    not_said: tuple[str, ...] = ()  # claims that would be wrong for this incident


SCENARIOS = [
    Expected("noisy-neighbour", cause=("analytics/nightly-reindex", "memory"), rollback_revision=None,
             p0=("analytics/nightly-reindex", "limits.memory"), not_said=("disk pressure", "DiskPressure")),
    Expected("healthy-service", cause=("no fault found in orders/order-api",), rollback_revision=None,
             not_said=("MemoryPressure", "DiskPressure", "Evict")),
    Expected("nodefs-logs-fill", cause=("telemetry/event-collector", "nodefs"), rollback_revision=None,
             p0=("telemetry/event-collector", "sizeLimit"),
             not_said=("image GC", "image filesystem", "Where the image's bytes came from", "(culprit)")),
    Expected("config-change-crashloop", cause=("revision 15", "/etc/worker/config.yaml"), rollback_revision=14,
             p0=("revision 15",), not_said=("DiskPressure", "MemoryPressure")),
]


@dataclass
class Incident:
    """One scenario's incident, paged to serve over HTTP."""

    url: str
    services: Any
    slack: Any
    pd: Any
    scenario: Scenario
    channel: str
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def incident_id(self) -> str:
        return f"pd-{PD_ID}"

    def send(self, event_type: str, *, minutes: float) -> httpx.Response:
        spec = self.scenario.incident
        assert spec is not None
        body = incident_event_body(
            event_type, event_id=f"ev-{event_type}", incident_id=PD_ID, title=spec.title + TITLE_SUFFIX,
            service=spec.service,
            occurred_at=spec.triggered_at + timedelta(minutes=minutes), created_at=spec.triggered_at,
            urgency=spec.urgency, number=spec.incident_number or 8800,
            agent=None if event_type == "incident.triggered" else "Alice Oncall", assignees=("Alice Oncall",),
        )
        headers = delivery_headers(body, secrets=[SECRET], webhook_id=f"d-{event_type}")
        return httpx.post(f"{self.url}/pagerduty/webhook", content=body, headers=headers, timeout=10)

    def root(self) -> dict[str, Any]:
        with self.slack.lock:
            (root,) = [m for m in self.slack.messages.values() if not m.get("thread_ts")]
            return dict(root)

    def thread(self) -> list[dict[str, Any]]:
        ts = self.root()["ts"]
        with self.slack.lock:
            return [dict(m) for (_, t), m in sorted(self.slack.messages.items()) if m.get("thread_ts") == ts]

    def draft(self) -> str | None:
        with self.services.store.unit_of_work() as uow:
            latest = uow.postmortems.latest(self.incident_id)
        return latest.body_markdown if latest else None


@pytest.fixture(params=SCENARIOS, ids=[e.scenario for e in SCENARIOS])
def expected(request: pytest.FixtureRequest) -> Expected:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coroner.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def incident(expected: Expected, database: str, tmp_path: Path, slack_api: Any, kit: Any,
             pagerduty_api: Any) -> Iterator[Incident]:
    scenario = load_scenario(expected.scenario)
    spec = scenario.incident
    assert spec is not None
    channel = f"#inc-{spec.service}"
    lines = ["services:", f"  {spec.service}:", f"    namespace: {spec.namespace}",
             f"    pagerduty_service_id: {service_id_for(spec.service)}", f"    slack_channel: '{channel}'"]
    dockerfile = tmp_path / spec.service / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text(GO_DOCKERFILE.format(service=spec.service))
    lines.append(f"    dockerfile: {spec.service}/Dockerfile")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("\n".join(lines) + "\n")
    story = incident_story(spec.triggered_at)
    pagerduty_api.add_incident(PD_ID, log_entries=[trigger_entry("R01", at=spec.triggered_at, service=spec.service),
                                                   *story[1:]])
    with running_sim(scenario) as sim, contextlib.ExitStack() as stack:
        settings = Settings(
            database_url=database,
            kubeconfig=sim.write_kubeconfig(tmp_path / "kubeconfig"),
            slack_signing_secret=kit.secret, slack_bot_token=kit.token, slack_api_url=slack_api.api_url,
            pagerduty_webhook_secrets=[SECRET], catalog_file=catalog, node_proxy_enabled=True,
            reviewers=["U0LEAD"], web_secret="other-incidents-web-secret-0123456789", rollback_enabled=True,
            pagerduty_api_token=pagerduty_api.token, pagerduty_api_url=pagerduty_api.url,
            pagerduty_from_email="coroner@example.com",
        )
        services = build(settings, images=ScenarioImageReader(scenario))
        services.store.upgrade()
        url = stack.enter_context(serving(build_app(services, pending_sweep_seconds=1.0)))
        services.settings = settings.model_copy(update={"public_url": url})
        services.links = PostmortemLinks.from_settings(services.settings)
        stack.callback(start_auth_check(services.slack_app().client, services.slack_health,
                                        retry_seconds=0.2, max_retry_seconds=1.0).close)
        running = Incident(url=url, services=services, slack=slack_api, pd=pagerduty_api, scenario=scenario,
                           channel=channel)
        start_workers(services.store, lambda name: services.handlers(worker=name), count=2, stop=running.stop,
                      idle_seconds=0.05)
        stack.callback(running.stop.set)
        yield running


def section(draft: str, title: str) -> str:
    """One `## title` section of the draft, up to the next `## `."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", draft, flags=re.S | re.M)
    assert match, f"no section {title!r} in the draft"
    return match.group(1)


def test_the_user_sees_the_sre_answer(incident: Incident, expected: Expected) -> None:
    assert incident.send("incident.triggered", minutes=0).status_code == 202
    wait_until(lambda: incident.slack.messages and "Probable cause" in text_of(incident.root()),
               what="the probable cause on the root", timeout=60)
    note = incident.pd.wait_for("POST", f"/incidents/{PD_ID}/notes", timeout=40)[0].body["note"]["content"]
    assert incident.send("incident.acknowledged", minutes=4).status_code == 202
    assert incident.send("incident.resolved", minutes=52).status_code == 202
    draft = wait_until(incident.draft, what="the draft", timeout=60)
    wait_until(lambda: any("coroner_pm_approve" in text_of(m) for m in incident.thread()),
               what="the draft's notice in the thread", timeout=30)
    root, thread = text_of(incident.root()), [text_of(m) for m in incident.thread()]
    diagnosis = next(t for t in thread if "Diagnosis:" in t)
    dump = os.environ.get("CORONER_DUMP")  # to read what a user sees: CORONER_DUMP=/tmp/seen pytest ...
    if dump:
        out = Path(dump) / expected.scenario
        out.mkdir(parents=True, exist_ok=True)
        (out / "root.json").write_text(root)
        (out / "thread.json").write_text(json.dumps(thread, indent=1, ensure_ascii=False))
        (out / "note.txt").write_text(note)
        (out / "draft.md").write_text(draft)

    # Slack: the root leads with the cause, names the culprit, and shows the title's markup as text.
    cause_line = re.search(r"Probable cause:\*? ([^\"]*)", root)
    assert cause_line, root
    for word in expected.cause:
        assert word in cause_line.group(1), (word, cause_line.group(1))
        assert word in note
    assert "&lt;!channel&gt; &lt;b&gt;" in root and "<!channel>" not in root
    # The thread keeps the diagnosis's order but says which High findings are the Dockerfile's hygiene.
    lint = re.search(r"[^•]*`build-tools-in-final-stage`[^\\]*", diagnosis)
    assert lint and "hygiene, not this cause" in lint.group(0), diagnosis
    assert "hygiene, not this cause" not in re.search(r"[^•]*`(evictions|crashloop|rollback-not-indicated)`[^\\]*",
                                                      diagnosis).group(0)  # type: ignore[union-attr]
    # The PagerDuty note lists the incident's evidence; the Dockerfile's lint is hygiene, left to the draft.
    assert "build-tools-in-final-stage" not in note and "dockerignore-missing" not in note
    # Rollback: advised (root, note, button) exactly when the service's own change is the cause.
    advised = f"roll back to revision {expected.rollback_revision}"
    button = '"action_id": "coroner_rollback"' in diagnosis
    if expected.rollback_revision is None:
        assert "roll back to revision" not in cause_line.group(1) and "roll back to revision" not in note
        assert not button and "Rollback not recommended" in diagnosis
    else:
        assert advised in cause_line.group(1) and advised in note
        assert button and f"--to-revision={expected.rollback_revision}" in diagnosis

    # The draft: the Summary leads with the cause, and the first P0 is aimed at it.
    summary = section(draft, "Summary")
    for word in expected.cause:
        assert word in summary, (word, summary)
    actions = section(draft, "Action items")
    rows = [line for line in actions.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert 1 <= len(rows) <= 10
    p0 = [row for row in rows if "| P0 |" in row]
    if expected.p0:
        assert p0 and all(word in p0[0] for word in expected.p0), p0
        assert "To prevent a recurrence" in summary
    else:
        assert not p0, p0  # nothing found: no action claims to prevent a recurrence
    rollback_rows = [row for row in rows if "rollout undo" in row]
    response = section(draft, "Detection and response")
    if expected.rollback_revision is None:
        assert not rollback_rows and "No rollback was recommended" in response
        assert "change → page" not in response  # the last rollout did not start this incident
        assert "recommended rollback was not taken" not in draft
        lessons = section(draft, "Lessons")
        assert "reached production unchecked" not in lessons  # no change of the service's was the trigger
        if expected.p0:
            assert re.search(rf"Nothing contained the trigger \([^)]*{re.escape(expected.p0[0])}", lessons), lessons
    else:
        assert len(rollback_rows) == 1 and f"--to-revision={expected.rollback_revision}" in rollback_rows[0]
    # Figures: each is a value or says why it is missing; none is negative or measured from days before.
    detect = re.search(r"^\| Time to detect \| ([^|]+) \| ([^|]+) \|", response, flags=re.M)
    assert detect, response
    assert detect.group(2).strip() == "missing" or re.fullmatch(r"\d+ (min|s)", detect.group(2).strip()), detect.group(0)
    # The team's Dockerfile has findings, but the image did not break: its patch is hygiene.
    assert "Remove the culprit layers" not in draft and "Where the image's bytes came from" not in draft
    assert "Hygiene, not this incident's fix" in draft and "did not contribute" in actions
    assert not re.search(r"≈ (\S+ \S+) instead of \1", draft)  # no "estimate" that changes nothing
    story = draft[: draft.index("## Appendix")]
    for claim in expected.not_said:
        assert claim not in story and claim not in cause_line.group(1), claim
    # The key moments read in order: a rollout days before carries its date, and is not "the change".
    timeline = section(draft, "Timeline")
    if expected.rollback_revision is None:
        assert "Change:" not in timeline
    else:
        change = re.search(r"^- \*\*(\S+)\*\* Change: .*revision (\d+) rolled out", timeline, flags=re.M)
        assert change and change.group(2) == str(expected.rollback_revision + 1), timeline
        assert "Rollback:" not in timeline  # a config-only rollout keeps its image: it is not a rollback
