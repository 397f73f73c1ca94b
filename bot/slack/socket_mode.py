"""`coroner serve --socket-mode`: Slack's requests arrive over an outbound WebSocket, so no public URL.

The bolt `App` is the one `/slack/events` serves, with the same listeners; only the transport differs
(REFERENCE.md §2.5). Each Socket Mode envelope is dispatched to the app and acked over the socket with
the listener's ack payload (§5.2); there is no signature to check, the connection itself is
authenticated by the `xapp-` token.

The client is slack_sdk's builtin one (bolt's default). It runs the socket in its own threads, so
`serve`'s uvicorn keeps the main thread, and it reconnects by itself after a drop or a `disconnect`
frame, with a fresh URL from `apps.connections.open`. It only does so once it has connected, so the
first connection is retried here: Slack being down when `serve` starts must not stop it.
The websocket-client based one was tried and rejected: after a `disconnect` frame it closes the old
socket from another thread while its reader sits in `select()` with no timeout, which never returns,
so the new connection is never read and the bot goes deaf (the double's disconnect test shows it).
"""

from __future__ import annotations

import json
import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.builtin.connection import Connection

from bot.ports import CoronerError
from bot.slack.health import TOKEN_REFUSALS, failure_reason

log = logging.getLogger(__name__)

APP_TOKEN_PREFIX = "xapp-"


class SocketModeError(CoronerError):
    """Socket Mode cannot start: the app-level token is not one, or Slack refused it."""


def check_app_token(app_token: str) -> None:
    """Refuse what is not an app-level token, naming only its kind: the value is a secret."""
    if app_token.startswith(APP_TOKEN_PREFIX):
        return
    kind = {"xoxb-": "a bot token", "xoxp-": "a user token"}.get(app_token[:5], "not a Slack app-level token")
    raise SocketModeError(
        f"CORONER_SLACK_APP_TOKEN is {kind}: Socket Mode needs an app-level token (xapp-…) with the "
        "connections:write scope, from the Slack app's Basic Information page"
    )


class SocketModeRunner:
    """The live Socket Mode connection of one bolt app. `connected` is True while the current
    WebSocket has received Slack's `hello` and is still open."""

    def __init__(self, handler: SocketModeHandler, *, retry_seconds: float, max_retry_seconds: float) -> None:
        self._handler = handler
        self._retry_seconds = retry_seconds
        self._max_retry_seconds = max_retry_seconds
        self._state = threading.Condition()
        self._greeted: Connection | None = None
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._connector: threading.Thread | None = None
        handler.client.on_message_listeners.append(self._on_message)
        handler.client.on_error_listeners.append(self._on_error)

    @property
    def connected(self) -> bool:
        # The client replaces `current_session` on every reconnection, and a closed one is inactive.
        session = self._handler.client.current_session
        with self._state:
            return session is not None and session is self._greeted and session.is_active()

    @property
    def last_error(self) -> str | None:
        with self._state:
            return self._last_error

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (each `hello` wakes this); False on timeout."""
        with self._state:  # re-entrant: `connected` takes it too
            return self._state.wait_for(lambda: self.connected, timeout)

    def close(self) -> None:
        self._stop.set()
        if self._connector is not None:
            self._connector.join(timeout=5)
        self._handler.close()

    def connect_first(self) -> None:
        """Connect now. A refused token raises `SocketModeError`; Slack being unreachable does not:
        the connection is then retried in the background until it succeeds or `close()`."""
        try:
            self._handler.connect()
        except SlackApiError as exc:
            if exc.response is not None and exc.response.get("error") in TOKEN_REFUSALS:
                raise SocketModeError(
                    f"Slack refused CORONER_SLACK_APP_TOKEN: {exc.response.get('error')}"
                ) from exc
            self._failed(exc)
        except (SlackClientError, OSError) as exc:
            self._failed(exc)
        else:
            return
        log.warning("Socket Mode is not connected yet, retrying in the background: %s", self.last_error)
        self._connector = threading.Thread(target=self._connect_until_up, name="coroner-socket-mode-connect",
                                           daemon=True)
        self._connector.start()

    def _connect_until_up(self) -> None:
        delay = self._retry_seconds
        while not self._stop.wait(delay):
            try:
                self._handler.connect()
            except (SlackClientError, OSError) as exc:
                self._failed(exc)
                delay = min(delay * 2, self._max_retry_seconds)
            else:
                log.info("Socket Mode connected after Slack came back")
                return

    def _failed(self, exc: Exception) -> None:
        reason = failure_reason(exc, base_url=self._handler.client.web_client.base_url)
        with self._state:
            self._last_error = f"apps.connections.open: {reason}"

    def _on_message(self, message: str) -> None:
        if '"hello"' not in message:  # cheap filter: the client parses every frame again
            return
        try:
            kind = json.loads(message).get("type")
        except ValueError:
            return
        if kind == "hello":
            # Frames are read only from the client's current session, in its reader thread.
            with self._state:
                self._greeted = self._handler.client.current_session
                self._last_error = None
                self._state.notify_all()
            log.info("Socket Mode connected")

    def _on_error(self, error: Exception) -> None:
        # Also where a failed reconnection lands.
        with self._state:
            self._last_error = f"socket: {type(error).__name__}: {error}"


def start_socket_mode(
    app: App,
    *,
    app_token: str,
    api_url: str,
    ping_interval: float = 10.0,
    timeout: int = 10,
    retry_seconds: float = 2.0,
    max_retry_seconds: float = 60.0,
) -> SocketModeRunner:
    """Connect `app` to Slack through Socket Mode, in background threads; `close()` the runner to stop.

    `api_url` is the Web API base where `apps.connections.open` is called (CORONER_SLACK_API_URL).
    Raises `SocketModeError` for a token that is not `xapp-…` or that Slack refuses."""
    check_app_token(app_token)
    handler = SocketModeHandler(
        app, app_token=app_token, web_client=WebClient(base_url=api_url, timeout=timeout), ping_interval=ping_interval
    )
    runner = SocketModeRunner(handler, retry_seconds=retry_seconds, max_retry_seconds=max_retry_seconds)
    try:
        runner.connect_first()
    except SocketModeError:
        handler.close()
        raise
    return runner
