"""The registry-meltdown outage, end to end in one process, on embedded defaults.

Nothing here is canned: the page is a genuinely signed PagerDuty V3 delivery that goes through the
real intake app; the diagnosis is the shipped playbook run by the durable job worker against the
simulated API server through the official kubernetes client; the image autopsy and the Dockerfile fix
run on the scenario's recorded evidence; the postmortem is rendered from what the store holds.
Every write is idempotent on stable keys, so running the demo twice adds no rows.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from bot.app import create_app
from bot.catalog import Catalog, CatalogEntry
from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.dockerfile.fix import fix
from bot.domain import Incident, TimelineEntry
from bot.engine.diagnose import Diagnosis, diagnose
from bot.engine.playbook import load_playbooks, select_playbook
from bot.images.autopsy import ImageReport, autopsy
from bot.incidents.service import incident_id_for
from bot.incidents.simulate import delivery_headers, incident_event_body
from bot.ports import CoronerError
from bot.postmortem.evidence import DockerfileFix, ImageSummary
from bot.postmortem.render import render_postmortem
from bot.postmortem.view import build_view
from bot.server import serving
from bot.sim.images import ScenarioImageReader
from bot.sim.kubeconfig import DEFAULT_CONTEXT
from bot.sim.scenario import Scenario, load_scenario
from bot.sim.server import running_sim
from bot.store import Store
from bot.worker import DiagnosisWorker, record_diagnosis

# Signs the demo's own deliveries to its own in-process app; production secrets come from
# CORONER_PAGERDUTY_WEBHOOK_SECRETS and are never this one.
DEMO_WEBHOOK_SECRET = "coroner-demo-only-secret"
DEMO_PLAYBOOK_TRIGGER = "pagerduty:incident.triggered"


class DemoError(CoronerError):
    """The demo could not run its scenario (a step answered something unexpected)."""


@dataclass(frozen=True)
class DemoRun:
    incident: Incident
    diagnosis: Diagnosis
    image: ImageReport | None
    timeline: list[TimelineEntry]
    postmortem_path: Path
    postmortem_version: int
    postmortem_is_new: bool


def pagerduty_id(scenario: Scenario) -> str:
    """A PagerDuty-looking incident id, stable per scenario so a second run is recognised as the same page."""
    return "Q" + hashlib.sha256(scenario.name.encode()).hexdigest()[:6].upper()


def replay(
    *,
    workdir: Path,
    playbooks_dir: Path,
    templates_dir: Path | None = None,
    scenario_name: str = "registry-meltdown",
    echo: Callable[[str], None] = print,
) -> DemoRun:
    scenario = load_scenario(scenario_name)
    spec = scenario.incident
    if spec is None or spec.resolved_at is None:
        raise DemoError(f"scenario {scenario.name} has no incident with trigger and resolve times to replay")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot use {workdir} as the demo's directory: {exc.strerror}") from exc
    store = Store.from_url(f"sqlite:///{(workdir / 'coroner.db').resolve()}")
    store.upgrade()
    pd_id = pagerduty_id(scenario)
    incident_id = incident_id_for(pd_id)
    images = ScenarioImageReader(scenario)
    playbook = select_playbook(load_playbooks(playbooks_dir), trigger=DEMO_PLAYBOOK_TRIGGER)
    app = create_app(store=store, webhook_secrets=[DEMO_WEBHOOK_SECRET], pending_sweep_seconds=None)

    def deliver(http: httpx.Client, event_type: str, at: datetime) -> None:
        body = incident_event_body(
            event_type,
            event_id=f"{pd_id}-{event_type}",
            incident_id=pd_id,
            title=spec.title,
            service=spec.service,
            occurred_at=at,
            created_at=spec.triggered_at,
            urgency=spec.urgency,
            number=spec.incident_number,
            agent="on-call" if event_type != "incident.triggered" else None,
        )
        headers = delivery_headers(body, secrets=[DEMO_WEBHOOK_SECRET], webhook_id=f"{pd_id}-{event_type}-delivery")
        response = http.post("/pagerduty/webhook", content=body, headers=headers)
        if response.status_code != 202:
            raise DemoError(f"intake answered {response.status_code} to {event_type}: {response.text}")

    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http, running_sim(scenario) as sim:
        kubeconfig = sim.write_kubeconfig(workdir / "kubeconfig")
        deliver(http, "incident.triggered", spec.triggered_at)
        cluster = KubernetesClusterReader.connect(kubeconfig, DEFAULT_CONTEXT)
        deployment = cluster.get_deployment(spec.namespace or "prod", spec.service)
        current_image = deployment.containers[0].image
        catalog = _demo_catalog(workdir, scenario, spec.service, spec.namespace or "prod", current_image)

        def run(service: str) -> Diagnosis:
            return diagnose(service, cluster=cluster, images=images, playbook=playbook, catalog=catalog,
                            node_proxy_enabled=True)

        outcome = DiagnosisWorker(store, lambda job: run(job.payload["service"]), name="coroner-demo").run_once()
        if outcome is not None:
            diagnosis = outcome.diagnosis
        else:
            # A second run: the job was done the first time. Diagnose again to show it; the store
            # recognises the same diagnosis and the same timeline entries and adds nothing.
            diagnosis = run(spec.service)
            record_diagnosis(store, incident_id=incident_id, diagnosis=diagnosis, started_at=spec.triggered_at)
        deliver(http, "incident.resolved", spec.resolved_at)

    incident = store.get_incident(incident_id)
    if incident is None:
        raise DemoError(f"the intake did not create incident {incident_id}")
    timeline = store.timeline(incident_id)
    previous = diagnosis.recommended
    dockerfile = scenario.dockerfile_for(current_image)
    report = autopsy(images, current_image, dockerfile_text=dockerfile,
                     against=previous.image if previous else None)
    image = ImageSummary.from_json(
        report.to_json(), previous_total_bytes=previous.size_bytes if previous else None
    )
    dockerfile_fix = None
    if dockerfile:
        # The image proves the build had no .dockerignore and shows what `COPY . .` took from the
        # context, so the fix can propose a .dockerignore that covers those paths.
        result = fix(dockerfile, dockerignore_missing=scenario.dockerignore_for(current_image) is None,
                     context_files=copied_context_files(report))
        dockerfile_fix = DockerfileFix.from_fix_result(result)
    view = build_view(incident=incident, timeline=timeline, findings=diagnosis.findings,
                      rollback_candidates=diagnosis.rollback_candidates, image=image, dockerfile_fix=dockerfile_fix)
    markdown = render_postmortem(view, templates_dir=templates_dir)
    version, created = store.save_postmortem_version(incident_id=incident_id, body_markdown=markdown, author="coroner")
    path = workdir / f"postmortem-{pd_id}.md"
    path.write_text(markdown, encoding="utf-8")
    store.dispose()
    return DemoRun(incident=incident, diagnosis=diagnosis, image=report, timeline=timeline, postmortem_path=path,
                   postmortem_version=version.version, postmortem_is_new=created)


def copied_context_files(report: ImageReport) -> dict[str, int]:
    """Context path -> bytes for the layer a whole-context `COPY . <dir>` made, from its largest paths.
    The layer's paths sit under the destination directory, so their common prefix is stripped."""
    layer = next((lay for lay in report.layers if lay.instruction.split()[:2] == ["COPY", "."]), None)
    if layer is None or not layer.top_paths:
        return {}
    paths = [p.path for p in layer.top_paths]
    prefix = posixpath.commonpath(paths) if len(paths) > 1 else posixpath.dirname(paths[0])
    return {posixpath.relpath(p.path, prefix or "."): p.bytes for p in layer.top_paths}


def _demo_catalog(workdir: Path, scenario: Scenario, service: str, namespace: str, image: str) -> Catalog:
    """A catalog entry pointing at the Dockerfile that built the image, as a team would keep it."""
    text = scenario.dockerfile_for(image)
    dockerfile = None
    if text is not None:
        dockerfile = workdir / service / "Dockerfile"
        dockerfile.parent.mkdir(parents=True, exist_ok=True)
        dockerfile.write_text(text, encoding="utf-8")
    entry = CatalogEntry(name=service, namespace=namespace, workload=f"deployment/{service}", dockerfile=dockerfile)
    return Catalog(services={service: entry})

