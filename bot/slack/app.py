"""The bolt app: `/diagnose SERVICE` and the opt-in rollback button.

`/diagnose` acknowledges at once (Slack gives 3 s) and diagnoses on its own bounded pool
(`bot.slack.diagnose_command`). Nothing here is built at import time: `create_slack_app` is called by
the composition root with secrets from Settings.

Building the app never contacts Slack, so that Slack being down cannot stop `serve`: the bot token is
checked by `bot.slack.health.start_auth_check` in the background, and bolt calls `auth.test` again on
the first request it authorizes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.ports import Clock, CoronerError
from bot.settings import Settings
from bot.slack.diagnose_command import (
    DEFAULT_CONCURRENCY,
    DiagnoseCommand,
    IncidentThreadFor,
    RecordRun,
    SlashDiagnose,
    register_diagnose,
)
from bot.slack.listeners import register_error_handler, register_rollback_button
from bot.slack.poster import SlackChatPoster, build_web_client

log = logging.getLogger(__name__)

# bolt runs listeners here and waits up to 3 s for each ack: only quick work may run on it. Diagnoses
# have their own pool (`bot.slack.diagnose_command`).
LISTENER_THREADS = 8


class SlackAppError(CoronerError):
    """The Slack app cannot be built (a missing setting)."""


def create_slack_app(
    *,
    signing_secret: str | None,
    bot_token: str,
    diagnose: SlashDiagnose,
    record_run: RecordRun,
    incident_thread_for: IncidentThreadFor,
    client: WebClient | None = None,
    offer_rollback: bool = False,
    command: str = "/diagnose",
    diagnose_concurrency: int = DEFAULT_CONCURRENCY,
    clock: Clock | None = None,
    register: Sequence[Callable[[App], None]] = (),
) -> App:
    """Build the app without contacting Slack. `client` (for tests or a custom base URL) must carry the
    bot token; without it a rate-limit-aware client for `bot_token` is built.

    `signing_secret=None` is for Socket Mode only, where Slack's requests arrive over the bot's own
    authenticated WebSocket: such an app must never be mounted on an HTTP route (`build_app` mounts
    `/slack/events` only when CORONER_SLACK_SIGNING_SECRET is set)."""
    web_client = client if client is not None else build_web_client(token=bot_token)
    if web_client.token is None:
        web_client.token = bot_token
    app = App(signing_secret=signing_secret or "", client=web_client, process_before_response=False,
              token_verification_enabled=False, request_verification_enabled=signing_secret is not None,
              listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack-listener"))
    diagnose_command = DiagnoseCommand(
        diagnose=diagnose, record_run=record_run, incident_thread_for=incident_thread_for,
        poster=SlackChatPoster(web_client), offer_rollback=offer_rollback, concurrency=diagnose_concurrency,
        clock=clock,
    )
    register_diagnose(app, diagnose_command, command=command)
    # bolt runs the first listener that matches: `register`'s come first, so with rollbacks enabled their
    # rollback listener acts, and otherwise the button only explains `kubectl rollout undo`.
    for add_listeners in register:
        add_listeners(app)
    register_rollback_button(app)
    register_error_handler(app)
    return app


def create_slack_app_from_settings(
    settings: Settings,
    *,
    diagnose: SlashDiagnose,
    record_run: RecordRun,
    incident_thread_for: IncidentThreadFor,
    offer_rollback: bool = False,
    register: Sequence[Callable[[App], None]] = (),
    socket_mode: bool = False,
) -> App:
    """The composition root's entry: secrets and the API URL come from Settings, never from os.environ.
    Over HTTP the signing secret is required; in Socket Mode it is not used."""
    secret, bot_token = settings.slack_signing_secret, settings.slack_bot_token
    if bot_token is None or (secret is None and not socket_mode):
        missing = [name for name, value in (("SIGNING_SECRET", secret or socket_mode), ("BOT_TOKEN", bot_token))
                   if not value]
        raise SlackAppError(f"Slack is not configured: set {' and '.join('CORONER_SLACK_' + m for m in missing)}")
    token = bot_token.get_secret_value()
    return create_slack_app(
        signing_secret=secret.get_secret_value() if secret is not None else None,
        bot_token=token,
        diagnose=diagnose,
        record_run=record_run,
        incident_thread_for=incident_thread_for,
        client=build_web_client(token=token, base_url=settings.slack_api_url),
        offer_rollback=offer_rollback,
        diagnose_concurrency=settings.diagnose_concurrency,
        register=register,
    )
