"""The bolt app: `/diagnose SERVICE` and the opt-in rollback button.

`/diagnose` acknowledges at once (Slack gives 3 s) and diagnoses on its own bounded pool
(`bot.slack.diagnose_command`). Nothing here is built at import time: `create_slack_app` is called by
the composition root with secrets from Settings.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

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

# bolt runs acks (and lazy listeners' start) here, and waits up to 3 s for each ack: only quick work may
# run on it. Diagnoses have their own pool.
LISTENER_THREADS = 8


class SlackAppError(CoronerError):
    """The Slack app could not start (for example the bot token was refused by auth.test)."""


def create_slack_app(
    *,
    signing_secret: str,
    bot_token: str,
    diagnose: SlashDiagnose,
    record_run: RecordRun,
    incident_thread_for: IncidentThreadFor,
    client: WebClient | None = None,
    offer_rollback: bool = False,
    command: str = "/diagnose",
    diagnose_concurrency: int = DEFAULT_CONCURRENCY,
    clock: Clock | None = None,
) -> App:
    """Build the app. `client` (for tests or a custom base URL) must carry the bot token; without it a
    rate-limit-aware client for `bot_token` is built. The token is checked once with `auth.test`."""
    web_client = client if client is not None else build_web_client(token=bot_token)
    if web_client.token is None:
        web_client.token = bot_token
    try:
        app = App(signing_secret=signing_secret, client=web_client, process_before_response=False,
                  listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack-listener"))
    except BoltError as exc:
        raise SlackAppError(f"Slack refused the bot token: {exc}") from exc
    except (SlackClientError, OSError) as exc:
        raise SlackAppError(f"cannot reach Slack at {web_client.base_url} to check the bot token: {exc}") from exc
    diagnose_command = DiagnoseCommand(
        diagnose=diagnose, record_run=record_run, incident_thread_for=incident_thread_for,
        poster=SlackChatPoster(web_client), offer_rollback=offer_rollback, concurrency=diagnose_concurrency,
        clock=clock,
    )
    register_diagnose(app, diagnose_command, command=command)
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
) -> App:
    """The composition root's entry: secrets and the API URL come from Settings, never from os.environ."""
    secret, bot_token = settings.slack_signing_secret, settings.slack_bot_token
    if secret is None or bot_token is None:
        missing = [name for name, value in (("SIGNING_SECRET", secret), ("BOT_TOKEN", bot_token)) if value is None]
        raise SlackAppError(f"Slack is not configured: set {' and '.join('CORONER_SLACK_' + m for m in missing)}")
    token = bot_token.get_secret_value()
    return create_slack_app(
        signing_secret=secret.get_secret_value(),
        bot_token=token,
        diagnose=diagnose,
        record_run=record_run,
        incident_thread_for=incident_thread_for,
        client=build_web_client(token=token, base_url=settings.slack_api_url),
        offer_rollback=offer_rollback,
        diagnose_concurrency=settings.diagnose_concurrency,
    )
