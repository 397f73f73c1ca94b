"""The bolt app: `/diagnose SERVICE` and the opt-in rollback button.

`/diagnose` acknowledges at once (Slack gives 3 s) and runs the diagnosis in a lazy listener, which
answers through `response_url`. Nothing here is built at import time: `create_slack_app` is called by
the composition root with secrets from Settings.

Building the app never contacts Slack, so that Slack being down cannot stop `serve`: the bot token is
checked by `bot.slack.health.start_auth_check` in the background, and bolt calls `auth.test` again on
the first request it authorizes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App
from slack_sdk import WebClient

from bot.ports import CoronerError
from bot.settings import Settings
from bot.slack.blocks import DiagnosisLike
from bot.slack.listeners import register_diagnose, register_error_handler, register_rollback_button
from bot.slack.poster import build_web_client

log = logging.getLogger(__name__)


class SlackAppError(CoronerError):
    """The Slack app cannot be built (a missing setting)."""


def create_slack_app(
    *,
    signing_secret: str,
    bot_token: str,
    diagnose: Callable[[str], DiagnosisLike],
    client: WebClient | None = None,
    offer_rollback: bool = False,
    command: str = "/diagnose",
) -> App:
    """Build the app without contacting Slack. `client` (for tests or a custom base URL) must carry the
    bot token; without it a rate-limit-aware client for `bot_token` is built."""
    web_client = client if client is not None else build_web_client(token=bot_token)
    if web_client.token is None:
        web_client.token = bot_token
    app = App(signing_secret=signing_secret, client=web_client, process_before_response=False,
              token_verification_enabled=False)
    register_diagnose(app, diagnose=diagnose, command=command, offer_rollback=offer_rollback)
    register_rollback_button(app)
    register_error_handler(app)
    return app


def create_slack_app_from_settings(
    settings: Settings, *, diagnose: Callable[[str], DiagnosisLike], offer_rollback: bool = False
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
        client=build_web_client(token=token, base_url=settings.slack_api_url),
        offer_rollback=offer_rollback,
    )
