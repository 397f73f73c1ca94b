"""Is Slack answering? `SlackHealth` holds the answer for `/readyz`; `AuthCheck` keeps it current.

Slack being down must not stop `serve`: PagerDuty intake goes on, and Slack shows as degraded until a
call succeeds again. Two things feed the state: the background `auth.test` of `AuthCheck` and every
post (`SlackChatPoster`). While Slack is degraded the check retries `auth.test` with a growing delay;
while it is ok the check sleeps until a failed post wakes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clock import SystemClock
from bot.ports import Clock

log = logging.getLogger(__name__)

SlackState = Literal["ok", "degraded"]

# Slack's answers that mean "this token will not work", as opposed to "Slack is having trouble".
TOKEN_REFUSALS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type",
})


@dataclass(frozen=True)
class SlackStatus:
    state: SlackState
    since: datetime  # when the state last changed
    last_error: str | None = None  # the latest failure, kept after recovery for the operator
    last_error_at: datetime | None = None


class SlackHealth:
    """Thread-safe. It starts degraded ("not checked yet"): nothing has answered yet."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._changed = threading.Condition()
        now = self._clock.now()
        self._status = SlackStatus(state="degraded", since=now, last_error="not checked yet", last_error_at=now)
        self._on_recovered: list[Callable[[], None]] = []

    def on_recovered(self, callback: Callable[[], None]) -> None:
        """Call `callback` (off the lock) each time Slack turns from degraded to ok."""
        self._on_recovered.append(callback)

    def status(self) -> SlackStatus:
        with self._changed:
            return self._status

    @property
    def ok(self) -> bool:
        return self.status().state == "ok"

    def record_ok(self) -> None:
        with self._changed:
            recovered = self._status.state != "ok"
            if recovered:
                self._status = SlackStatus(state="ok", since=self._clock.now(), last_error=self._status.last_error,
                                           last_error_at=self._status.last_error_at)
                log.info("Slack is reachable again")
                self._changed.notify_all()
        if recovered:
            for callback in self._on_recovered:
                try:
                    callback()
                except Exception:  # a hook's failure must not turn a good post into an error
                    log.exception("Slack recovery hook failed")

    def record_failure(self, error: str) -> None:
        with self._changed:
            now = self._clock.now()
            since = self._status.since if self._status.state == "degraded" else now
            if self._status.state == "ok":
                log.warning("Slack is degraded: %s", error)
            self._status = SlackStatus(state="degraded", since=since, last_error=error, last_error_at=now)
            self._changed.notify_all()

    def wait_until(self, state: SlackState, timeout: float | None = None, *,
                   unless: threading.Event | None = None) -> bool:
        """Block until Slack is in `state` (or `unless` is set and `wake()` called); False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._status.state == state or (unless is not None and unless.is_set()), timeout
            )

    def wake(self) -> None:
        """Make the waiters look again at what they wait for: a closing AuthCheck's `unless` was set."""
        with self._changed:
            self._changed.notify_all()


def failure_reason(exc: Exception, *, base_url: str) -> str:
    """What went wrong in a few words: Slack's error code, the HTTP status, or why it could not be
    reached. Never the token."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        error = response.get("error") if response is not None else None
        return str(error) if error else f"HTTP {response.status_code if response is not None else '?'}"
    return f"cannot reach Slack at {base_url}: {exc}"


def is_outage(exc: Exception) -> bool:
    """True when the failure says Slack cannot be used (down, 5xx, token refused), not that one request
    was wrong (channel_not_found, invalid_blocks)."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        if response is None:
            return True
        return response.status_code >= 500 or response.get("error") in TOKEN_REFUSALS
    return isinstance(exc, (SlackClientError, OSError))


class AuthCheck:
    """Calls `auth.test` in a daemon thread until it succeeds, then again whenever Slack turns degraded."""

    def __init__(
        self, client: WebClient, health: SlackHealth, *, retry_seconds: float = 2.0, max_retry_seconds: float = 60.0
    ) -> None:
        self._client = client
        self._health = health
        self._retry_seconds = retry_seconds
        self._max_retry_seconds = max_retry_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coroner-slack-auth-check", daemon=True)

    def start(self) -> AuthCheck:
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._health.wake()  # at once, not after the wait's bound: `coroner serve` stops without a pause
        self._thread.join(timeout)

    def check_once(self) -> bool:
        try:
            self._client.auth_test()
        except (SlackClientError, OSError) as exc:
            self._health.record_failure(f"auth.test: {failure_reason(exc, base_url=self._client.base_url)}")
            if isinstance(exc, SlackApiError) and exc.response is not None and exc.response.get("error") in TOKEN_REFUSALS:
                log.error("Slack refused CORONER_SLACK_BOT_TOKEN (%s)", exc.response.get("error"))
            return False
        self._health.record_ok()
        return True

    def _run(self) -> None:
        delay = self._retry_seconds
        while not self._stop.is_set():
            if self._health.ok:
                delay = self._retry_seconds
                # Sleep until a post fails, or close() wakes it.
                self._health.wait_until("degraded", unless=self._stop)
                continue
            if self.check_once():
                continue
            self._stop.wait(delay)
            delay = min(delay * 2, self._max_retry_seconds)


def start_auth_check(
    client: WebClient, health: SlackHealth, *, retry_seconds: float = 2.0, max_retry_seconds: float = 60.0
) -> AuthCheck:
    """Check the bot token in the background, so that building the app never waits for Slack."""
    return AuthCheck(client, health, retry_seconds=retry_seconds, max_retry_seconds=max_retry_seconds).start()
