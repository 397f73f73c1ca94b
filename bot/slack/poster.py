"""`ChatPoster` over the Slack Web API.

Posts run inside durable jobs, so the client does not sleep through rate limits itself: a 429 or an
unreachable Slack becomes `ChatPostError(retryable=True, retry_after=…)`, and the job is queued again
after Slack's `Retry-After`. Errors that a retry cannot fix by itself (a channel that does not exist, a
bad token) are `retryable=False` and keep their Slack error code in the message.

Every call also tells `SlackHealth` how Slack is doing: an outage (unreachable, 5xx, token refused) turns
`/readyz`'s Slack to degraded and wakes the background `auth.test`; a success clears it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.metrics import api_call
from bot.ports import CoronerError
from bot.slack.health import SlackHealth, failure_reason, is_outage

log = logging.getLogger(__name__)

SLACK_API_URL = "https://slack.com/api/"
# Slack error codes that mean "later", not "never" (besides HTTP 429 and 5xx).
_TRANSIENT = frozenset({"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"})


class ChatPostError(CoronerError):
    """Slack refused or could not take a message; the message names the API error code."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None,
                 error: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.error = error


def with_rate_limit_retries(client: WebClient, *, max_retries: int = 3) -> WebClient:
    """Add the 429 handler once, keeping whatever retry handlers the client already has."""
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_retries))
    return client


def build_web_client(
    *, token: str, base_url: str = SLACK_API_URL, timeout: int = 10, max_retries: int = 3
) -> WebClient:
    """A client for interactive calls (listeners), which waits out a short rate limit itself."""
    return with_rate_limit_retries(WebClient(token=token, base_url=base_url, timeout=timeout), max_retries=max_retries)


class SlackUnavailable(ChatPostError):
    """Slack could not be used at all (down, 5xx, token refused): worth retrying once Slack is back,
    unlike a refusal of this one message."""


def _failure(method: str, channel: str, exc: Exception, *, base_url: str) -> ChatPostError:
    message = f"{method} to {channel} failed: {failure_reason(exc, base_url=base_url)}"
    if isinstance(exc, SlackApiError) and exc.response is not None:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        status = exc.response.status_code
        header = (exc.response.headers or {}).get("Retry-After") or (exc.response.headers or {}).get("retry-after")
        retry_after = float(header) if header and str(header).replace(".", "", 1).isdigit() else None
        if is_outage(exc):
            return SlackUnavailable(message, retryable=True, retry_after=retry_after, error=error)
        retryable = status == 429 or error in _TRANSIENT
        return ChatPostError(message, retryable=retryable, retry_after=retry_after, error=error)
    return SlackUnavailable(message, retryable=True)


def slack_outcome(exc: Exception) -> str:
    """`ratelimited` when Slack answered 429, else `error`."""
    if isinstance(exc, SlackApiError) and exc.response is not None and exc.response.status_code == 429:
        return "ratelimited"
    return "error"


class SlackChatPoster:
    """Implements `bot.ports.ChatPoster`. `post` returns the posted message's `ts` (a thread parent id).
    Every call is counted in `coroner_api_calls_total{api="slack"}`."""

    def __init__(self, client: WebClient, *, health: SlackHealth | None = None) -> None:
        self._client = client
        self._health = health

    def _call(self, method: str, channel: str, call: Any) -> Any:
        try:
            with api_call("slack", method, outcome_of=slack_outcome):
                response = call()
        except (SlackApiError, SlackClientError, OSError) as exc:
            failure = _failure(method, channel, exc, base_url=self._client.base_url)
            if self._health is not None and isinstance(failure, SlackUnavailable):
                self._health.record_failure(f"{method}: {failure_reason(exc, base_url=self._client.base_url)}")
            raise failure from exc
        if self._health is not None:
            self._health.record_ok()
        return response

    def post(self, *, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str | None = None) -> str:
        response = self._call("chat.postMessage", channel, lambda: self._client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts))
        ts = str(response["ts"])
        log.info("posted to slack", extra={"channel": channel, "ts": ts, "thread_ts": thread_ts})
        return ts

    def update(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        self._call("chat.update", channel,
                   lambda: self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks))

    def post_ephemeral(self, *, channel: str, user: str, text: str) -> None:
        self._call("chat.postEphemeral", channel,
                   lambda: self._client.chat_postEphemeral(channel=channel, user=user, text=text))
