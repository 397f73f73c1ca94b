"""The README's promise through `coroner serve`'s own app and workers: a signed page becomes a live Slack
thread with the diagnosis, later PagerDuty events edit the root and add lines, and a resolve drafts the
postmortem and posts its review notice. Slack is the local Web API double; the cluster is the simulator
read through the official client; the database is SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.incidents.simulate import delivery_headers, incident_event_body, note_event_body, service_id_for
from bot.server import serving
from bot.settings import Settings
from bot.sim.images import ScenarioImageReader
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim
from bot.wiring import build, build_app
from bot.worker import start_workers

SECRET = "pd-lifecycle-secret"
SERVICE = "user-profile-service"
CHANNEL = "#user-profile"
T0 = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


@dataclass
class Bot:
    url: str
    services: Any
    slack: Any
    incident_pd_id: str = "PLIFE01"

    def send(self, body: bytes, *, webhook_id: str | None = None) -> httpx.Response:
        headers = delivery_headers(body, secrets=[SECRET], webhook_id=webhook_id)
        return httpx.post(f"{self.url}/pagerduty/webhook", content=body, headers=headers, timeout=10)

    def event(self, event_type: str, *, minutes: float, agent: str | None = "Alice Oncall",
              assignees: tuple[str, ...] = (), event_id: str | None = None) -> bytes:
        return incident_event_body(
            event_type, event_id=event_id or f"ev-{event_type}-{minutes}", incident_id=self.incident_pd_id,
            title="[prod] user-profile-service: 5xx rate 38% <!channel>", service=SERVICE,
            occurred_at=T0 + timedelta(minutes=minutes), created_at=T0, number=4127,
            agent=None if event_type == "incident.triggered" else agent, assignees=assignees,
        )


def wait_until(predicate: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["sqlite", "postgres"])
def bot(request, tmp_path: Path, slack_api, kit) -> Iterator[Bot]:
    database = (f"sqlite:///{tmp_path / 'coroner.db'}" if request.param == "sqlite"
                else request.getfixturevalue("postgres_url"))
    scenario = load_scenario("registry-meltdown")
    dockerfile = tmp_path / "service" / "Dockerfile"
    dockerfile.parent.mkdir()
    deployed = "registry.internal:5000/user-profile-service:2024.05.14-1"
    dockerfile.write_text(scenario.dockerfile_for(deployed) or "FROM scratch\n")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        f"services:\n  {SERVICE}:\n    namespace: prod\n    pagerduty_service_id: {service_id_for(SERVICE)}\n"
        f"    slack_channel: '{CHANNEL}'\n    dockerfile: service/Dockerfile\n"
    )
    stop = threading.Event()
    with running_sim(scenario) as sim, contextlib.ExitStack() as stack:
        settings = Settings(
            database_url=database, kubeconfig=sim.write_kubeconfig(tmp_path / "kubeconfig"),
            slack_signing_secret=kit.secret, slack_bot_token=kit.token, slack_api_url=slack_api.api_url,
            pagerduty_webhook_secrets=[SECRET], catalog_file=catalog, node_proxy_enabled=True,
            reviewers=["U0LEAD"],
        )
        services = build(settings, images=ScenarioImageReader(scenario))
        services.store.upgrade()
        url = stack.enter_context(serving(build_app(services, pending_sweep_seconds=1.0)))
        stack.callback(stop.set)
        start_workers(services.store, lambda name: services.handlers(worker=name), count=2, stop=stop,
                      idle_seconds=0.05)
        yield Bot(url=url, services=services, slack=slack_api)


def posts(slack, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
    found = [r.body for r in slack.calls("/api/chat.postMessage")]
    return [b for b in found if (b.get("thread_ts") or None) == thread_ts]


def root_of(slack) -> dict[str, Any]:
    roots = posts(slack)
    assert len(roots) == 1, roots
    return roots[0]


def root_ts(slack) -> str:
    with slack.lock:
        return next(ts for (channel, ts), m in slack.messages.items() if not m.get("thread_ts"))


def current_root(slack) -> dict[str, Any]:
    with slack.lock:
        return dict(slack.messages[(CHANNEL, root_ts(slack))])


def text_of(message: dict[str, Any]) -> str:
    blocks = message.get("blocks")
    return json.dumps(json.loads(blocks) if isinstance(blocks, str) else blocks, ensure_ascii=False)


def test_page_to_thread_to_draft(bot: Bot) -> None:
    slack = bot.slack
    started = time.monotonic()
    assert bot.send(bot.event("incident.triggered", minutes=0), webhook_id="d-trig").status_code == 202

    # The root message lands in the catalog's channel, escaped, and gains the probable cause.
    root = wait_until(lambda: posts(slack), what="the root message")[0]
    assert root["channel"] == CHANNEL
    assert "&lt;!channel&gt;" in text_of(root) and "<!channel>" not in text_of(root)
    ts = root_ts(slack)
    diagnosis = wait_until(lambda: posts(slack, thread_ts=ts), what="the diagnosis in the thread")[0]
    assert "image-size-regression" in text_of(diagnosis) and "--to-revision=4" in text_of(diagnosis)
    cause = wait_until(lambda: "Probable cause" in text_of(current_root(slack)) and current_root(slack),
                       what="the probable cause on the root")
    assert "19.5×" in text_of(cause) and "revision 4" in text_of(cause)
    assert time.monotonic() - started < 10

    # Later events: the root is edited in place, one line each in the thread.
    bot.send(bot.event("incident.acknowledged", minutes=4), webhook_id="d-ack")
    wait_until(lambda: "*Status:* acknowledged" in text_of(current_root(slack)), what="the root acknowledged")
    bot.send(note_event_body(event_id="ev-note", incident_id=bot.incident_pd_id, occurred_at=T0 + timedelta(minutes=6),
                             content="Registry <b>down</b>; nodes out of disk", agent="Alice Oncall"),
             webhook_id="d-note")
    bot.send(bot.event("incident.escalated", minutes=8, agent="Alice Oncall", assignees=("Bob Secondary",)),
             webhook_id="d-esc")
    lines = wait_until(lambda: len(posts(slack, thread_ts=ts)) >= 4 and posts(slack, thread_ts=ts),
                       what="three event lines")
    texts = [text_of(m) for m in lines[1:]]
    assert any("acknowledged" in t for t in texts)
    assert any("Registry &lt;b&gt;down&lt;/b&gt;" in t for t in texts)
    assert any("Bob Secondary" in t for t in texts)
    # PagerDuty re-triggers an incident it escalates: the root says so, and names the new assignee.
    wait_until(lambda: "Bob Secondary" in text_of(current_root(slack)), what="the new assignee on the root")

    # A duplicate delivery, of any of them, posts nothing.
    before = len(slack.calls("/api/chat.postMessage"))
    assert bot.send(bot.event("incident.acknowledged", minutes=4), webhook_id="d-ack").json()["status"] == "duplicate"
    assert bot.send(bot.event("incident.triggered", minutes=0), webhook_id="d-trig-again").json()["status"] == "duplicate"

    # Resolve: a draft is stored and announced in the thread with its review buttons.
    bot.send(bot.event("incident.resolved", minutes=149), webhook_id="d-res")
    notice = wait_until(lambda: [m for m in posts(slack, thread_ts=ts) if "coroner_pm_approve" in text_of(m)],
                        what="the postmortem notice")[0]
    for action in ("coroner_pm_start_review", "coroner_pm_request_changes"):
        assert action in text_of(notice)
    with bot.services.store.unit_of_work() as uow:
        (version,) = uow.postmortems.versions(f"pd-{bot.incident_pd_id}")
    assert version.status.value == "draft" and "cuda" in version.body_markdown.lower()
    time.sleep(1.0)  # let any stray job run: nothing may be posted twice
    keys = [(m.get("channel"), m.get("thread_ts"), text_of(m)) for m in posts(slack, thread_ts=ts) + posts(slack)]
    assert len(keys) == len(set(keys))
    assert len(slack.calls("/api/chat.postMessage")) == before + 2  # the resolved line and the notice
