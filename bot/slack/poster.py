"""`ChatPoster` over the Slack Web API.

slack_sdk retries only connection errors by default; a burst of posts during an incident hits
`chat.postMessage`'s ~1 message/s per channel limit, so the client always carries a
`RateLimitErrorRetryHandler` that honours `Retry-After`.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.ports import CoronerError

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"


class ChatPostError(CoronerError):
    """Slack refused or could not take a message; the message names the API error code."""


def with_rate_limit_retries(client: WebClient, *, max_retries: int = 3) -> WebClient:
    """Add the 429 handler once, keeping whatever retry handlers the client already has."""
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_retries))
    return client


def build_web_client(
    *, token: str, base_url: str = SLACK_API_URL, timeout: int = 10, max_retries: int = 3
) -> WebClient:
    return with_rate_limit_retries(WebClient(token=token, base_url=base_url, timeout=timeout), max_retries=max_retries)


class SlackChatPoster:
    """Implements `bot.ports.ChatPoster`. Returns the posted message's `ts` (a thread parent id)."""

    def __init__(self, client: WebClient, *, max_retries: int = 3) -> None:
        self._client = with_rate_limit_retries(client, max_retries=max_retries)

    def post(self, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None) -> str:
        try:
            response = self._client.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)
        except (SlackClientError, OSError) as exc:
            raise ChatPostError(f"chat.postMessage to {channel} failed: {_reason(exc)}") from exc
        ts = str(response["ts"])
        log.info("posted to slack", extra={"channel": channel, "ts": ts, "thread_ts": thread_ts})
        return ts

    def update(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit a message the bot posted (`chat.update`); Slack answers `message_not_found` for any other."""
        try:
            self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except (SlackClientError, OSError) as exc:
            raise ChatPostError(f"chat.update of {channel} {ts} failed: {_reason(exc)}") from exc


def _reason(exc: SlackClientError | OSError) -> str:
    """Slack's error code (`not_in_channel`, `ratelimited`, …), else the HTTP status or the transport error."""
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if exc.response is not None else None
        status = exc.response.status_code if exc.response is not None else "?"
        return str(error or f"HTTP {status}")
    return str(exc)
