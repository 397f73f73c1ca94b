"""Composition root: the one place that turns Settings into the store, the readers, the playbook engine
and the chat poster. Nothing else builds an SDK client, so every other module can be tested with fakes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.ports import ChatPoster, ClusterReader, ImageReader
from bot.settings import Settings

if TYPE_CHECKING:  # the CLI's `image` and `diagnose` paths build readers without the store or Slack
    from starlette.applications import Starlette

    from bot.catalog import Catalog
    from bot.engine.diagnose import Diagnosis
    from bot.engine.playbook import Playbook
    from bot.store import Store
    from bot.store.records import Job

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
    from bot.images.registry_auth import RegistryAuth
    from bot.images.registry_reader import RegistryImageReader

    # Credentials are scoped per registry host: each goes to its own registry only (docs/images.md).
    auth = RegistryAuth(settings.registry_credentials(), trusted_realms=settings.registry_token_realms)
    return RegistryImageReader(platform=settings.image_platform, byte_budget=settings.image_byte_budget, auth=auth)


@dataclass
class Services:
    settings: Settings
    store: Store
    playbooks: Mapping[str, Playbook]
    catalog: Catalog
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

    def images(self) -> ImageReader:
        with self._lock:
            if self._images is None:
                self._images = image_reader(self.settings)
            return self._images

    def diagnose(self, service: str, *, trigger: str = "diagnose", namespace: str | None = None) -> Diagnosis:
        from bot.engine.diagnose import diagnose
        from bot.engine.playbook import select_playbook
        from bot.engine.resolve import catalog_context

        context = catalog_context(self.catalog, service) or self.settings.kube_context
        return diagnose(
            service,
            cluster=self.cluster(context),
            images=self.images(),
            playbook=select_playbook(dict(self.playbooks), trigger=trigger),
            catalog=self.catalog,
            namespace=namespace,
            node_proxy_enabled=self.settings.node_proxy_enabled,
        )

    def diagnose_job(self, job: Job) -> Diagnosis:
        """A PagerDuty-triggered diagnosis; the catalog maps PagerDuty's service id to our service name."""
        entry = self.catalog.by_pagerduty_service(job.payload.get("pagerduty_service_id") or "")
        service = entry.name if entry is not None else job.payload["service"]
        result = self.diagnose(service, trigger=PAGERDUTY_TRIGGER)
        channel = entry.slack_channel if entry is not None else None
        if self.chat is not None and channel:
            from bot.slack.blocks import diagnosis_message

            message = diagnosis_message(result)
            self.chat.post(channel=channel, text=message.text, blocks=message.blocks)
        return result


def build(settings: Settings) -> Services:
    from bot.catalog import Catalog, load_catalog
    from bot.engine.playbook import load_playbooks
    from bot.store import Store

    chat = None
    if settings.slack_bot_token is not None:
        from bot.slack.poster import SlackChatPoster, build_web_client

        chat = SlackChatPoster(
            build_web_client(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
        )
    return Services(
        settings=settings,
        store=Store.from_url(settings.database_url),
        playbooks=load_playbooks(settings.playbooks_dir),
        catalog=load_catalog(settings.catalog_file) if settings.catalog_file else Catalog(),
        chat=chat,
    )


def build_app(services: Services) -> Starlette:
    """The production app: PagerDuty intake, health, and Slack's `/diagnose` when Slack is configured."""
    from bot.app import create_app

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
    )
