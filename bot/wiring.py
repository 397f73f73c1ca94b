"""Composition root: the one place that turns Settings into the store, the readers, the playbook engine,
the chat poster, the job handlers and the app. Every entry point (serve, the CLI, the demo, the tests)
builds through `build(settings, ...)`, with overrides for doubles, so there is one pipeline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette

from bot.app import create_app
from bot.catalog import Catalog, load_catalog
from bot.clock import SystemClock
from bot.engine.diagnose import Diagnosis, diagnose
from bot.engine.playbook import Playbook, load_playbooks, select_playbook
from bot.engine.resolve import catalog_context
from bot.incidents.service import IncidentService
from bot.jobs.diagnose_incident import KIND as DIAGNOSE_KIND
from bot.jobs.draft_postmortem import KIND as DRAFT_KIND
from bot.jobs.post_to_slack import KIND as POST_KIND
from bot.lifecycle.diagnosis import DiagnosisHandler
from bot.lifecycle.drafting import DraftHandler
from bot.lifecycle.slack_thread import SlackThreadHandler
from bot.ports import ChatPoster, ClusterReader, Clock, ImageReader
from bot.settings import Settings
from bot.store import Store
from bot.worker import Handler, default_worker_name

log = logging.getLogger(__name__)

PAGERDUTY_TRIGGER = "pagerduty:incident.triggered"


def cluster_reader(settings: Settings, *, kubeconfig: Path | None = None, context: str | None = None) -> ClusterReader:
    """The official kubernetes client: the given kubeconfig, else CORONER_KUBECONFIG, else in-cluster."""
    from bot.cluster.kubernetes_reader import KubernetesClusterReader

    return KubernetesClusterReader.connect(kubeconfig or settings.kubeconfig, context or settings.kube_context)


def image_reader(settings: Settings, *, source: str | None = None, docker_contents: str = "auto") -> ImageReader:
    """CORONER_IMAGE_SOURCE's reader: an OCI registry over HTTP (production), or the local Docker engine."""
    if (source or settings.image_source) == "docker":
        from bot.images.docker_reader import DockerImageReader

        return DockerImageReader(contents=docker_contents)
    from bot.images.registry_reader import RegistryImageReader

    password = settings.registry_password.get_secret_value() if settings.registry_password else None
    return RegistryImageReader(platform=settings.image_platform, byte_budget=settings.image_byte_budget,
                               username=settings.registry_username, password=password)


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
    _clusters: dict[str | None, ClusterReader] = field(default_factory=dict)
    _images: ImageReader | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cluster(self, context: str | None) -> ClusterReader:
        """One reader per kubeconfig context, built on first use (a catalog may span clusters)."""
        with self._lock:
            if context not in self._clusters:
                self._clusters[context] = cluster_reader(self.settings, context=context)
            return self._clusters[context]

    def cluster_for(self, service: str) -> ClusterReader:
        return self.cluster(catalog_context(self.catalog, split_service(service)[1]) or self.settings.kube_context)

    def images(self) -> ImageReader:
        with self._lock:
            if self._images is None:
                self._images = image_reader(self.settings)
            return self._images

    def diagnose(self, service: str, *, trigger: str = "diagnose", namespace: str | None = None) -> Diagnosis:
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
        )

    def incident_service(self) -> IncidentService:
        return IncidentService(self.store, clock=self.clock,
                               coalesce=timedelta(seconds=self.settings.diagnosis_coalesce_seconds))

    def draft_url(self, incident_id: str) -> str | None:
        """The signed web view link of an incident's postmortem (None until the web view is configured)."""
        return None

    def handlers(self, *, worker: str | None = None) -> dict[str, Handler]:
        """The job handlers `serve`'s workers run, by job kind."""
        return {
            DIAGNOSE_KIND: DiagnosisHandler(
                store=self.store, catalog=self.catalog,
                diagnose=lambda service: self.diagnose(service, trigger=PAGERDUTY_TRIGGER),
                cluster_for=self.cluster_for, images=self.images,
            ),
            POST_KIND: SlackThreadHandler(
                store=self.store, chat=self.chat, catalog=self.catalog,
                default_channel=self.settings.slack_default_channel, worker=worker or default_worker_name(),
                now=self.clock.now, draft_url=self.draft_url,
            ),
            DRAFT_KIND: DraftHandler(store=self.store, templates_dir=self.settings.templates_dir),
        }


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
    if chat is None and settings.slack_bot_token is not None:
        from bot.slack.poster import SlackChatPoster
        from slack_sdk import WebClient

        # No retry handler here: a rate-limited post goes back to the queue with Slack's Retry-After.
        chat = SlackChatPoster(WebClient(token=settings.slack_bot_token.get_secret_value(),
                                         base_url=settings.slack_api_url, timeout=10))
    clock = clock or SystemClock()
    services = Services(
        settings=settings,
        store=Store.from_url(settings.database_url, clock=clock),
        playbooks=load_playbooks(settings.playbooks_dir),
        catalog=catalog or (load_catalog(settings.catalog_file) if settings.catalog_file else Catalog()),
        clock=clock,
        chat=chat,
        _images=images,
    )
    services._clusters.update(clusters or {})
    return services


def build_app(services: Services, *, pending_sweep_seconds: float | None = 60.0) -> Starlette:
    """The production app: PagerDuty intake, health, and Slack's `/diagnose` when Slack is configured."""
    settings = services.settings
    routes = []
    if settings.slack_signing_secret is not None and settings.slack_bot_token is not None:
        from bot.slack.app import create_slack_app_from_settings
        from bot.slack.asgi import slack_routes

        routes = slack_routes(create_slack_app_from_settings(settings, diagnose=services.diagnose))
    else:
        log.info("Slack is not configured (CORONER_SLACK_SIGNING_SECRET, CORONER_SLACK_BOT_TOKEN): /slack/events is off")
    return create_app(
        store=services.store,
        webhook_secrets=[s.get_secret_value() for s in settings.pagerduty_webhook_secrets],
        extra_routes=routes,
        incident_service=services.incident_service(),
        pending_sweep_seconds=pending_sweep_seconds,
    )
