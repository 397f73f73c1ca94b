"""The registry-meltdown outage, end to end, through the path `coroner serve` runs in production.

The demo assembles nothing of its own: it builds the object graph with `wiring.build` (overriding only
the image reader with the scenario's recorded image evidence, since no public registry is reachable),
serves `wiring.build_app` under uvicorn, runs `serve`'s job workers, and points Slack at a local Web API
double. Then it sends genuinely signed PagerDuty V3 deliveries (triggered, acknowledged, resolved) over
HTTP and waits until the workers have posted the thread and drafted the postmortem. Every write is
idempotent on stable keys, so running the demo twice adds no rows and posts nothing new.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.demo.gate import DemoGate, gate_at_rollout
from bot.demo.slack_double import Conversation, running_slack_double
from bot.domain import Incident, TimelineEntry
from bot.incidents.service import incident_id_for
from bot.incidents.simulate import delivery_headers, incident_event_body
from bot.lifecycle.drafting import latest_diagnosis
from bot.ports import CoronerError
from bot.server import serving
from bot.settings import Settings
from bot.sim.images import ScenarioImageReader
from bot.sim.model import Scenario
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim
from bot.store.records import DiagnosisRun, JobStatus
from bot.wiring import Services, build, build_app
from bot.worker import start_workers

# Signs the demo's own deliveries to its own app; production secrets come from
# CORONER_PAGERDUTY_WEBHOOK_SECRETS and are never this one. Same for the Slack token of the double.
DEMO_WEBHOOK_SECRET = "coroner-demo-only-secret"
DEMO_SLACK_TOKEN = "xoxb-coroner-demo-double"
DEMO_SIGNING_SECRET = "coroner-demo-signing-secret"
DEMO_ON_CALL = "Dana On-Call"
SETTLE_TIMEOUT = 60.0


class DemoError(CoronerError):
    """The demo could not run its scenario (a step answered something unexpected)."""


@dataclass(frozen=True)
class DemoRun:
    incident: Incident
    diagnosis: DiagnosisRun | None
    timeline: list[TimelineEntry]
    conversation: Conversation
    postmortem_path: Path
    postmortem_version: int
    postmortem_is_new: bool
    duplicates: int  # deliveries the intake recognised as already received (a second run)
    gate: DemoGate | None = None  # `coroner gate` on the culprit revision, as if it had run at its rollout


def pagerduty_id(scenario: Scenario) -> str:
    """A PagerDuty-looking incident id, stable per scenario so a second run is recognised as the same page."""
    return "Q" + hashlib.sha256(scenario.name.encode()).hexdigest()[:6].upper()


def demo_settings(workdir: Path, *, kubeconfig: Path, catalog: Path, slack_api_url: str, base: Settings) -> Settings:
    """The operator's settings (playbooks, templates) with the demo's own database, cluster and doubles."""
    return base.model_copy(update={
        "database_url": f"sqlite:///{(workdir / 'coroner.db').resolve()}",
        "kubeconfig": kubeconfig,
        "kube_context": None,
        "catalog_file": catalog,
        "slack_bot_token": SecretStr(DEMO_SLACK_TOKEN),
        "slack_signing_secret": SecretStr(DEMO_SIGNING_SECRET),
        "slack_api_url": slack_api_url,
        "slack_default_channel": None,
        "pagerduty_webhook_secrets": [SecretStr(DEMO_WEBHOOK_SECRET)],
        "node_proxy_enabled": True,
        "image_source": "registry",
    })


def replay(*, workdir: Path, base: Settings, scenario_name: str = "registry-meltdown") -> DemoRun:
    scenario = load_scenario(scenario_name)
    spec = scenario.incident
    if spec is None or spec.resolved_at is None:
        raise DemoError(f"scenario {scenario.name} has no incident with trigger and resolve times to replay")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot use {workdir} as the demo's directory: {exc.strerror}") from exc
    pd_id = pagerduty_id(scenario)
    incident_id = incident_id_for(pd_id)
    service_id = spec.pagerduty_service_id or "PDEMO01"
    namespace = spec.namespace or "prod"

    with ExitStack() as stack:
        sim = stack.enter_context(running_sim(scenario))
        slack_url, conversation = stack.enter_context(running_slack_double())
        catalog = _write_catalog(workdir, scenario, service_id=service_id, namespace=namespace)
        settings = demo_settings(workdir, kubeconfig=sim.write_kubeconfig(workdir / "kubeconfig"),
                                 catalog=catalog, slack_api_url=slack_url, base=base)
        services = build(settings, images=ScenarioImageReader(scenario))
        services.store.upgrade()
        url = stack.enter_context(serving(build_app(services, pending_sweep_seconds=0.5)))
        stack.enter_context(_workers(services))
        before = _version_count(services, incident_id)
        duplicates = 0
        with httpx.Client(base_url=url, timeout=10) as http:
            for event_type, at in (("incident.triggered", spec.triggered_at),
                                   ("incident.acknowledged", spec.triggered_at + timedelta(minutes=4)),
                                   ("incident.resolved", spec.resolved_at)):
                body = incident_event_body(
                    event_type, event_id=f"{pd_id}-{event_type}", incident_id=pd_id, title=spec.title,
                    service=spec.service, service_id=service_id, occurred_at=at, created_at=spec.triggered_at,
                    urgency=spec.urgency, number=spec.incident_number,
                    agent=None if event_type == "incident.triggered" else DEMO_ON_CALL, assignees=(DEMO_ON_CALL,),
                )
                headers = delivery_headers(body, secrets=[DEMO_WEBHOOK_SECRET],
                                           webhook_id=f"{pd_id}-{event_type}-delivery")
                response = http.post("/pagerduty/webhook", content=body, headers=headers)
                if response.status_code != 202:
                    raise DemoError(f"intake answered {response.status_code} to {event_type}: {response.text}")
                duplicates += response.json().get("status") == "duplicate"
                if event_type == "incident.triggered":
                    # The on-call acknowledges once the diagnosis is in the thread, as they would.
                    _settle(services, incident_id, until=lambda: latest_diagnosis(services.store, incident_id))
        _settle(services, incident_id, until=lambda: _version_count(services, incident_id) > 0)
        with services.store.unit_of_work() as uow:
            incident = uow.incidents.get(incident_id)
            version = uow.postmortems.latest(incident_id)
            timeline = uow.timeline.list(incident_id)
        if incident is None:
            raise DemoError(f"the intake did not create incident {incident_id}")
        if version is None:
            raise DemoError(f"no postmortem was drafted for {incident_id}")
        path = workdir / f"postmortem-{pd_id}.md"
        path.write_text(version.body_markdown, encoding="utf-8")
        gate = gate_at_rollout(scenario, services.cluster_for(spec.service), namespace, spec.service)
        run = DemoRun(
            incident=incident, diagnosis=latest_diagnosis(services.store, incident_id),
            timeline=timeline, conversation=conversation, postmortem_path=path,
            postmortem_version=version.version, postmortem_is_new=_version_count(services, incident_id) > before,
            duplicates=duplicates, gate=gate,
        )
        services.store.dispose()
        return run


@contextmanager
def _workers(services: Services) -> Iterator[None]:
    stop = threading.Event()
    threads = start_workers(services.store, lambda name: services.handlers(worker=name),
                            count=services.settings.workers, stop=stop, idle_seconds=0.05)
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def _settle(services: Services, incident_id: str, *, until: object) -> None:
    """Wait until `until()` holds and no job is queued or running: the workers have caught up."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        with services.store.unit_of_work() as uow:
            busy = uow.jobs.list(status=JobStatus.QUEUED) + uow.jobs.list(status=JobStatus.RUNNING)
            pending = uow.events.pending(limit=1)
        if not busy and not pending and callable(until) and until():
            return
        time.sleep(0.05)
    raise DemoError(f"incident {incident_id}: the workers did not finish within {SETTLE_TIMEOUT:.0f} s")


def _version_count(services: Services, incident_id: str) -> int:
    with services.store.unit_of_work() as uow:
        return len(uow.postmortems.versions(incident_id))


def _write_catalog(workdir: Path, scenario: Scenario, *, service_id: str, namespace: str) -> Path:
    """A catalog entry as a team would keep it: PagerDuty service, Slack channel, and the Dockerfile that
    built the image now running."""
    spec = scenario.incident
    assert spec is not None
    running = next((d for d in scenario.deployments if d["metadata"]["name"] == spec.service), None)
    containers = running["spec"]["template"]["spec"]["containers"] if running is not None else []
    text = scenario.dockerfile_for(containers[0]["image"]) if containers else None
    lines = ["services:", f"  {spec.service}:", f"    namespace: {namespace}",
             f"    pagerduty_service_id: {service_id}", f"    slack_channel: '#inc-{spec.service}'"]
    if text is not None:
        dockerfile = workdir / spec.service / "Dockerfile"
        dockerfile.parent.mkdir(parents=True, exist_ok=True)
        dockerfile.write_text(text, encoding="utf-8")
        lines.append(f"    dockerfile: {spec.service}/Dockerfile")
    path = workdir / "catalog.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


__all__ = ["DemoError", "DemoRun", "replay"]
