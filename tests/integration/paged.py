"""One scenario's incident paged to `coroner serve`'s own app and workers, as production runs it: the
scenario's cluster served by the sim to the official kubernetes client, Slack's and PagerDuty's HTTP
doubles, signed PagerDuty deliveries over HTTP (triggered -> acknowledged -> resolved), and the draft the
workers store on resolve. Shared by the tests that read what a user sees for incidents other than the demo."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.ports import ImageReader
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
from tests.doubles.pagerduty_api import PagerDutyApiDouble, incident_story, trigger_entry
from tests.doubles.slack_web import BOT_TOKEN, SIGNING_SECRET, SlackDouble
from tests.waiting import wait_until

SECRET = "pd-other-incidents-secret"
PD_ID = "POTHER1"
TITLE_SUFFIX = " <!channel> <b>"  # untrusted text in the page's title: Slack must show it, not act on it
RESOLVE_MINUTES = 52.0  # the page is resolved this long after it fired, or later: see `resolve_minutes_for`

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


def text_of(message: dict[str, Any]) -> str:
    blocks = message.get("blocks")
    return json.dumps(json.loads(blocks) if isinstance(blocks, str) else blocks, ensure_ascii=False)


@dataclass
class Incident:
    """One scenario's incident, paged to serve over HTTP."""

    url: str
    services: Any
    slack: SlackDouble
    pd: PagerDutyApiDouble
    scenario: Scenario
    channel: str
    title_suffix: str = TITLE_SUFFIX
    resolve_minutes: float = RESOLVE_MINUTES
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def incident_id(self) -> str:
        return f"pd-{PD_ID}"

    def send(self, event_type: str, *, minutes: float) -> httpx.Response:
        spec = self.scenario.incident
        assert spec is not None
        body = incident_event_body(
            event_type, event_id=f"ev-{event_type}", incident_id=PD_ID, title=spec.title + self.title_suffix,
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

    def page_to_draft(self) -> str:
        """Triggered, acknowledged once the probable cause is on the root, resolved `resolve_minutes` after
        the page: the draft the workers store."""
        assert self.send("incident.triggered", minutes=0).status_code == 202
        wait_until(lambda: self.slack.messages and "Probable cause" in text_of(self.root()),
                   what="the probable cause on the root", timeout=60)
        assert self.send("incident.acknowledged", minutes=4).status_code == 202
        assert self.send("incident.resolved", minutes=self.resolve_minutes).status_code == 202
        return str(wait_until(self.draft, what="the draft", timeout=60))


def resolve_minutes_for(scenario: Scenario) -> float:
    """When the page is resolved, in minutes after it fired: RESOLVE_MINUTES, or later for a scenario whose
    cluster is read long after the page (the diagnosis, and Coroner's note, come at the scenario's `now`),
    so the resolution follows the diagnosis as it does in life."""
    spec = scenario.incident
    assert spec is not None
    diagnosed = (scenario.now - spec.triggered_at).total_seconds() / 60
    return max(RESOLVE_MINUTES, float(int(diagnosed) + 10))


@contextlib.contextmanager
def paged(scenario_name: str | Path, *, database: str, tmp_path: Path, slack_api: SlackDouble,
          pagerduty_api: PagerDutyApiDouble, title_suffix: str = TITLE_SUFFIX,
          images: ImageReader | None = None, playbooks_dir: Path | None = None) -> Iterator[Incident]:
    """`serve` (app and two workers) over the scenario's sim, its service in the catalog with the team's
    Go Dockerfile, ready to be paged. `images` replaces the scenario's image reader (a registry reader
    over a double), `playbooks_dir` the shipped playbooks."""
    scenario = load_scenario(scenario_name)
    spec = scenario.incident
    assert spec is not None, f"scenario {scenario.name} has no incident"
    channel = f"#inc-{spec.service}"
    lines = ["services:", f"  {spec.service}:", f"    namespace: {spec.namespace}",
             f"    pagerduty_service_id: {service_id_for(spec.service)}", f"    slack_channel: '{channel}'"]
    dockerfile = tmp_path / spec.service / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text(GO_DOCKERFILE.format(service=spec.service))
    lines.append(f"    dockerfile: {spec.service}/Dockerfile")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("\n".join(lines) + "\n")
    resolve_minutes = resolve_minutes_for(scenario)
    story = incident_story(spec.triggered_at, resolved_after=timedelta(minutes=resolve_minutes))
    pagerduty_api.add_incident(PD_ID, log_entries=[trigger_entry("R01", at=spec.triggered_at, service=spec.service),
                                                   *story[1:]])
    with running_sim(scenario) as sim, contextlib.ExitStack() as stack:
        # PagerDuty stamps Coroner's note with its own time: here the scenario's, as the cluster tells it.
        pagerduty_api.clock = sim.api
        settings = Settings(
            database_url=database,
            kubeconfig=sim.write_kubeconfig(tmp_path / "kubeconfig"),
            slack_signing_secret=SIGNING_SECRET, slack_bot_token=BOT_TOKEN, slack_api_url=slack_api.api_url,
            pagerduty_webhook_secrets=[SECRET], catalog_file=catalog, node_proxy_enabled=True,
            reviewers=["U0LEAD"], web_secret="other-incidents-web-secret-0123456789", rollback_enabled=True,
            pagerduty_api_token=pagerduty_api.token, pagerduty_api_url=pagerduty_api.url,
            pagerduty_from_email="coroner@example.com",
            **({"playbooks_dir": playbooks_dir} if playbooks_dir is not None else {}),
        )
        services = build(settings, images=images or ScenarioImageReader(scenario))
        services.store.upgrade()
        url = stack.enter_context(serving(build_app(services, pending_sweep_seconds=1.0)))
        services.settings = settings.model_copy(update={"public_url": url})
        services.links = PostmortemLinks.from_settings(services.settings)
        stack.callback(start_auth_check(services.slack_app().client, services.slack_health,
                                        retry_seconds=0.2, max_retry_seconds=1.0).close)
        running = Incident(url=url, services=services, slack=slack_api, pd=pagerduty_api, scenario=scenario,
                           channel=channel, title_suffix=title_suffix, resolve_minutes=resolve_minutes)
        start_workers(services.store, lambda name: services.handlers(worker=name), count=2, stop=running.stop,
                      idle_seconds=0.05)
        stack.callback(running.stop.set)
        yield running
