"""Composition root: the one place that turns Settings into the store, the readers, the playbook engine,
the chat poster, the job handlers and the app. Every entry point (serve, the CLI, the demo, the tests)
builds through `build(settings, ...)`, with overrides for doubles, so there is one pipeline.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bot.admission.autopsies import AutopsyCache
from bot.admission.mode import NamespaceModes
from bot.admission.platforms import NodePlatforms
from bot.admission.slack_notice import GateDenialHandler
from bot.admission.webhook import AdmissionGate, admission_routes
from bot.app import create_app
from bot.cluster.kubernetes_rollbacker import KubernetesRollbacker
from bot.incidents.pagerduty_api import PagerDutyClient, enrich_timeline
from bot.incidents.pagerduty_api import build_client as build_pagerduty_client
from bot.jobs.note_to_pagerduty import KIND as NOTE_KIND
from bot.lifecycle.actions import IncidentActions
from bot.lifecycle.pagerduty_note import PagerDutyNoteHandler
from bot.metrics import count_pagerduty_call, metrics_routes
from bot.web.links import PostmortemLinks
from bot.web.load import load_postmortem_page
from bot.web.routes import postmortem_routes
from bot.catalog import Catalog, load_catalog
from bot.clock import SystemClock
from bot.engine.diagnose import Diagnosis, diagnose
from bot.engine.playbook import Playbook, load_playbooks, select_playbook
from bot.engine.resolve import catalog_context
from bot.engine.runner import OnCheckDone, configure_check_slots
from bot.gate import GatePolicy
from bot.incidents.service import IncidentService
from bot.jobs.diagnose_incident import KIND as DIAGNOSE_KIND
from bot.jobs.draft_postmortem import KIND as DRAFT_KIND
from bot.jobs.post_gate_denial import KIND as GATE_DENIAL_KIND
from bot.jobs.post_to_slack import KIND as POST_KIND
from bot.lifecycle.diagnosis import DiagnosisHandler
from bot.lifecycle.drafting import DraftHandler
from bot.lifecycle.slack_thread import SlackThreadHandler
from bot.ports import ChatPoster, ClusterReader, ClusterReadError, ClusterRollbacker, Clock, ImageReader
from bot.readers import cluster_reader, image_reader
from bot.settings import Settings
from bot.slack.app import create_slack_app_from_settings
from bot.slack.asgi import slack_routes
from bot.slack.diagnose_command import IncidentThread, ServiceRef, SlashRun
from bot.slack.health import SlackHealth
from bot.slack.incident_listeners import register_incident_actions
from bot.slack.poster import SlackChatPoster
from bot.slack.reviewers import Reviewers
from bot.store import Store
from bot.worker import Handler, default_worker_name

log = logging.getLogger(__name__)

PAGERDUTY_TRIGGER = "pagerduty:incident.triggered"
JOB_KINDS = (DIAGNOSE_KIND, POST_KIND, DRAFT_KIND, NOTE_KIND, GATE_DENIAL_KIND)


def split_service(text: str) -> tuple[str | None, str]:
    """`prod/user-profile-service` -> ("prod", "user-profile-service"); a bare name has no namespace."""
    namespace, sep, name = text.partition("/")
    return (namespace, name) if sep else (None, text)


@dataclass
class Services:
    settings: Settings
    store: Store
    playbooks: Mapping[str, Playbook]
    catalog: Catalog
    clock: Clock
    chat: ChatPoster | None = None
    pagerduty: PagerDutyClient | None = None
    links: PostmortemLinks | None = None
    slack_health: SlackHealth = field(default_factory=SlackHealth)
    _slack_app: App | None = None
    _clusters: dict[str | None, ClusterReader] = field(default_factory=dict)
    _rollbackers: dict[str | None, ClusterRollbacker] = field(default_factory=dict)
    _images: ImageReader | None = None
    _gate: AdmissionGate | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cluster(self, context: str | None) -> ClusterReader:
        """One reader per kubeconfig context, built on first use (a catalog may span clusters)."""
        with self._lock:
            if context not in self._clusters:
                self._clusters[context] = cluster_reader(self.settings, context=context)
            return self._clusters[context]

    def cluster_for(self, service: str) -> ClusterReader:
        return self.cluster(catalog_context(self.catalog, split_service(service)[1]) or self.settings.kube_context)

    def rollbacker(self, context: str | None) -> ClusterRollbacker:
        """The opt-in writer (CORONER_ROLLBACK_ENABLED), one per context like the readers."""
        context = context or self.settings.kube_context
        with self._lock:
            if context not in self._rollbackers:
                self._rollbackers[context] = KubernetesRollbacker.connect(self.settings.kubeconfig, context)
            return self._rollbackers[context]

    def images(self, platform: str | None = None) -> ImageReader:
        """A reader per use: the registry reader's byte budget (CORONER_IMAGE_BYTE_BUDGET) is per autopsy,
        so one process-wide reader would stop reading layers once 8 GiB had been read in total. `platform`
        (os/arch) picks from a multi-arch index, else CORONER_IMAGE_PLATFORM."""
        return self._images if self._images is not None else image_reader(self.settings, platform=platform)

    def admission_cluster(self) -> ClusterReader | None:
        """The cluster the admission webhook runs in (CORONER_KUBECONFIG/CONTEXT, else in-cluster), or None
        when there is none to read: the gate then decides without node figures and namespace labels."""
        try:
            return self.cluster(self.settings.kube_context)
        except ClusterReadError as exc:
            log.warning("admission gate: no cluster to read (%s): no pull pressure, no namespace modes", exc)
            return None

    def admission_gate(self) -> AdmissionGate:
        """The admission webhook's gate, one per process: its autopsies run in one pool, once per image."""
        settings = self.settings
        # Connect now, not on the first review: loading the kubernetes client takes longer than a review may.
        self.admission_cluster()
        with self._lock:
            if self._gate is None:
                self._gate = AdmissionGate(
                    store=self.store, autopsies=AutopsyCache(self.store, self.images),
                    modes=NamespaceModes(settings.gate_mode, self.admission_cluster), cluster=self.admission_cluster,
                    policy=GatePolicy(max_growth=settings.gate_max_growth,
                                      min_growth_bytes=settings.gate_min_growth_bytes),
                    deadline_seconds=settings.gate_deadline_seconds,
                    platforms=NodePlatforms(self.admission_cluster, default=settings.image_platform),
                )
            return self._gate

    def diagnose(self, service: str, *, trigger: str = "diagnose", namespace: str | None = None,
                 on_check_done: OnCheckDone | None = None) -> Diagnosis:
        """Diagnose `service` (a catalog name, a workload name, or `namespace/name`)."""
        given_namespace, name = split_service(service)
        return diagnose(
            name,
            cluster=self.cluster_for(name),
            images=self.images(),
            playbook=select_playbook(dict(self.playbooks), trigger=trigger),
            catalog=self.catalog,
            namespace=namespace or given_namespace,
            node_proxy_enabled=self.settings.node_proxy_enabled,
            on_check_done=on_check_done,
        )

    def slash_diagnose(self, service: ServiceRef, on_check_done: OnCheckDone) -> Diagnosis:
        return self.diagnose(service.name, namespace=service.namespace, on_check_done=on_check_done)

    def record_slash_run(self, run: SlashRun) -> None:
        """Who ran `/diagnose`, when, and what came of it: in the audit log, next to the clicks."""
        with self.store.unit_of_work() as uow:
            uow.audit.record(
                actor=run.user_id, action="slack.diagnose", target=str(ServiceRef(run.namespace, run.service)),
                details={"user_name": run.user_name, "channel_id": run.channel_id,
                         "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat(),
                         "outcome": run.outcome, "summary": run.summary, "error": run.error},
            )
            uow.commit()

    def incident_thread_for(self, service: ServiceRef) -> IncidentThread | None:
        """The open incident of the service, when it has a Slack thread: `/diagnose` answers there too."""
        entry = self.catalog.get(service.name)
        with self.store.unit_of_work() as uow:
            incident = uow.incidents.open_for_service(
                service.name, pagerduty_service_id=entry.pagerduty_service_id if entry is not None else None)
        if incident is None or not incident.slack_channel or not incident.slack_ts:
            return None
        return IncidentThread(incident.slack_channel, incident.slack_ts)

    def incident_service(self) -> IncidentService:
        return IncidentService(self.store, clock=self.clock,
                               coalesce=timedelta(seconds=self.settings.diagnosis_coalesce_seconds))

    def draft_url(self, incident_id: str) -> str | None:
        """The signed web view link of an incident's postmortem (None while CORONER_WEB_SECRET is unset)."""
        return self.links.url(incident_id, now=self.clock.now()) if self.links is not None else None

    def writes_notes(self) -> bool:
        return self.pagerduty is not None and bool(self.settings.pagerduty_from_email)

    def handlers(self, *, worker: str | None = None) -> dict[str, Handler]:
        """The job handlers `serve`'s workers run, by job kind."""
        name = worker or default_worker_name()
        handlers: dict[str, Handler] = {
            DIAGNOSE_KIND: DiagnosisHandler(
                store=self.store, catalog=self.catalog,
                diagnose=lambda service: self.diagnose(service, trigger=PAGERDUTY_TRIGGER),
                cluster_for=self.cluster_for, images=self.images, note_pagerduty=self.writes_notes(),
            ),
            POST_KIND: SlackThreadHandler(
                store=self.store, chat=self.chat, catalog=self.catalog,
                default_channel=self.settings.slack_default_channel, worker=name,
                now=self.clock.now, draft_url=self.draft_url, pagerduty_buttons=self.pagerduty is not None,
                offer_rollback=self.settings.rollback_enabled,
            ),
            DRAFT_KIND: DraftHandler(store=self.store, templates_dir=self.settings.templates_dir,
                                     enrich=lambda pd_id: enrich_timeline(self.pagerduty, pd_id)),
            GATE_DENIAL_KIND: GateDenialHandler(store=self.store, chat=self.chat, catalog=self.catalog,
                                                default_channel=self.settings.slack_default_channel, worker=name),
        }
        if self.pagerduty is not None and self.settings.pagerduty_from_email:
            handlers[NOTE_KIND] = PagerDutyNoteHandler(store=self.store, client=self.pagerduty,
                                                       from_email=self.settings.pagerduty_from_email, worker=name)
        return handlers

    def slack_app(self, *, socket_mode: bool = False) -> App:
        """The bolt app (`/diagnose` and the incident's buttons), built once: HTTP and Socket Mode share it."""
        settings = self.settings

        def incident_buttons(app: App) -> None:
            register_incident_actions(app, actions=self.actions(),
                                      reviewers=Reviewers(settings.reviewers, client=app.client),
                                      draft_url=self.draft_url, rollback_enabled=settings.rollback_enabled)

        with self._lock:
            if self._slack_app is None:
                self._slack_app = create_slack_app_from_settings(
                    settings, diagnose=self.slash_diagnose, record_run=self.record_slash_run,
                    incident_thread_for=self.incident_thread_for, offer_rollback=settings.rollback_enabled,
                    register=[incident_buttons], socket_mode=socket_mode)
            return self._slack_app

    def post_waiting_now(self) -> None:
        """Slack is back: the posts waiting out their backoff go now, not at their next retry time."""
        with self.store.unit_of_work() as uow:
            due = uow.jobs.make_due(POST_KIND) + uow.jobs.make_due(GATE_DENIAL_KIND)
            uow.commit()
        if due:
            log.info("Slack is back: %d waiting posts go now", due)

    def readiness(self) -> dict[str, str]:
        """What `/readyz` adds: Slack's state. A degraded Slack does not make the bot unready (the intake
        must keep accepting); posts wait in the queue until it is back."""
        if self.settings.slack_bot_token is None:
            return {}
        status = self.slack_health.status()
        report: dict[str, str] = {"slack": status.state}
        if status.state != "ok" and status.last_error:
            report["slack_error"] = status.last_error
        return report

    def actions(self) -> IncidentActions:
        return IncidentActions(store=self.store, pagerduty=self.pagerduty,
                               rollbacker_for=self.rollbacker if self.settings.rollback_enabled else None)


def build(
    settings: Settings,
    *,
    chat: ChatPoster | None = None,
    images: ImageReader | None = None,
    clusters: Mapping[str | None, ClusterReader] | None = None,
    catalog: Catalog | None = None,
    clock: Clock | None = None,
) -> Services:
    """The object graph from Settings. The overrides replace a part with a double or a recording (the demo
    reads images from its scenario's evidence); everything else is what production runs."""
    configure_check_slots(settings.check_concurrency)
    health = SlackHealth()
    if chat is None and settings.slack_bot_token is not None:
        # No retry handler here: a rate-limited post goes back to the queue with Slack's Retry-After.
        chat = SlackChatPoster(WebClient(token=settings.slack_bot_token.get_secret_value(),
                                         base_url=settings.slack_api_url, timeout=10), health=health)
    clock = clock or SystemClock()
    services = Services(
        settings=settings,
        store=Store.from_url(settings.database_url, clock=clock),
        playbooks=load_playbooks(settings.playbooks_dir),
        catalog=catalog or (load_catalog(settings.catalog_file) if settings.catalog_file else Catalog()),
        clock=clock,
        chat=chat,
        pagerduty=build_pagerduty_client(settings, on_call=count_pagerduty_call),
        links=PostmortemLinks.from_settings(settings),
        slack_health=health,
        _images=images,
    )
    health.on_recovered(services.post_waiting_now)
    if services.pagerduty is not None and not settings.pagerduty_from_email:
        log.warning("CORONER_PAGERDUTY_FROM_EMAIL is not set: diagnoses are not written back as PagerDuty notes")
    services._clusters.update(clusters or {})
    return services


def build_app(services: Services, *, pending_sweep_seconds: float | None = 60.0) -> Starlette:
    """The production app: PagerDuty intake, health, metrics, Slack (`/diagnose` and the incident's
    buttons) when Slack is configured, and the postmortem web view when CORONER_WEB_SECRET is set."""
    settings = services.settings
    routes: list[BaseRoute] = [*metrics_routes(services.store, kinds=JOB_KINDS),
                               *admission_routes(services.admission_gate())]
    if settings.slack_signing_secret is not None and settings.slack_bot_token is not None:
        routes += slack_routes(services.slack_app())
    else:
        log.info("Slack is not configured (CORONER_SLACK_SIGNING_SECRET, CORONER_SLACK_BOT_TOKEN): /slack/events is off")
    if settings.web_secret is not None:
        routes += postmortem_routes(load=functools.partial(load_postmortem_page, services.store),
                                    secret=settings.web_secret.get_secret_value(), clock=services.clock.now)
    return create_app(
        store=services.store,
        webhook_secrets=[s.get_secret_value() for s in settings.pagerduty_webhook_secrets],
        extra_routes=routes,
        incident_service=services.incident_service(),
        pending_sweep_seconds=pending_sweep_seconds,
        readiness=services.readiness,
    )
