"""Composition root: the one place that turns Settings into the store, the readers, the playbook engine
and the chat poster. Nothing else builds an SDK client, so every other module can be tested with fakes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.catalog import Catalog, load_catalog
from bot.engine.diagnose import Diagnosis, diagnose
from bot.engine.playbook import Playbook, load_playbooks, select_playbook
from bot.engine.resolve import catalog_context
from bot.ports import ChatPoster, ClusterReader, ImageReader
from bot.settings import Settings
from bot.store import Store
from bot.store.records import Job

if TYPE_CHECKING:
    from starlette.applications import Starlette

log = logging.getLogger(__name__)

PAGERDUTY_TRIGGER = "pagerduty:incident.triggered"


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
        from bot.cluster.kubernetes_reader import KubernetesClusterReader

        with self._lock:
            if context not in self._clusters:
                self._clusters[context] = KubernetesClusterReader.connect(self.settings.kubeconfig, context)
            return self._clusters[context]

    def images(self) -> ImageReader:
        from bot.images.cli import build_reader

        with self._lock:
            if self._images is None:
                self._images = build_reader(self.settings.image_source)
            return self._images

    def diagnose(self, service: str, *, trigger: str = "diagnose", namespace: str | None = None) -> Diagnosis:
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
