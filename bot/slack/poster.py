"""`ChatPoster` over the Slack Web API.

slack_sdk retries only connection errors by default; a burst of posts during an incident hits
`chat.postMessage`'s ~1 message/s per channel limit, so the client always carries a
`RateLimitErrorRetryHandler` that honours `Retry-After`.

Every post also tells `SlackHealth` how Slack is doing: an outage (unreachable, 5xx, token refused)
turns `/readyz`'s Slack to degraded and wakes the background `auth.test`; a success clears it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.ports import CoronerError
from bot.slack.health import SlackHealth, failure_reason, is_outage

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"


class ChatPostError(CoronerError):
    """Slack refused or could not take a message; the message names the API error code."""


class SlackUnavailable(ChatPostError):
    """Slack could not be used at all (down, 5xx, token refused): the post is worth retrying later,
    once `SlackHealth` is ok again, unlike a refusal of this one message."""


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

    def __init__(self, client: WebClient, *, max_retries: int = 3, health: SlackHealth | None = None) -> None:
        self._client = with_rate_limit_retries(client, max_retries=max_retries)
        self._health = health

    def post(self, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None) -> str:
        try:
            response = self._client.chat_postMessage(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)
        except (SlackClientError, OSError) as exc:
            reason = failure_reason(exc, base_url=self._client.base_url)
            message = f"chat.postMessage to {channel} failed: {reason}"
            if not is_outage(exc):
                raise ChatPostError(message) from exc
            if self._health is not None:
                self._health.record_failure(f"chat.postMessage: {reason}")
            raise SlackUnavailable(message) from exc
        if self._health is not None:
            self._health.record_ok()
        ts = str(response["ts"])
        log.info("posted to slack", extra={"channel": channel, "ts": ts, "thread_ts": thread_ts})
        return ts


class RetryingChatPoster:
    """Implements `bot.ports.ChatPoster`: a post that fails because Slack is down waits until
    `SlackHealth` is ok again (the background `auth.test` finds out) and is sent again, for at most
    `patience` seconds. Keep `patience` under a job's lease, so that no other worker takes the job
    (and posts it again) while this one waits."""

    def __init__(self, poster: SlackChatPoster, health: SlackHealth, *, patience: float = 240.0) -> None:
        self._poster = poster
        self._health = health
        self._patience = patience

    def post(self, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None) -> str:
        deadline = time.monotonic() + self._patience
        while True:
            try:
                return self._poster.post(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)
            except SlackUnavailable:
                left = deadline - time.monotonic()
                if left <= 0 or not self._health.wait_until("ok", timeout=left):
                    raise
                log.info("Slack is back: posting again", extra={"channel": channel})
