"""A local double of Slack's Socket Mode (REFERENCE.md §2.5, §5.2), the way python-slack-sdk tests itself.

Two real servers on loopback:
- HTTP `POST /api/apps.connections.open`: a bearer `xapp-…` token gets `{"ok": true, "url":
  "ws://127.0.0.1:<port>/link/?ticket=…&app_id=A0001"}`, a bot or user token gets
  `not_allowed_token_type`, anything else `invalid_auth`. Each URL's ticket is good for one connection.
- a WebSocket server (the `websockets` library) that greets each connection with a `hello` frame,
  sends the envelopes a test hands it in Slack's shape, and records the acks the app sends back
  (`{"envelope_id": …, "payload": {…}}`). It can drop the connection without a close frame, or send a
  `disconnect` frame as Slack does before it recycles a connection.

`running_slack_socket(listening=False)` keeps the HTTP port closed (Slack is down) until `come_up()`;
`outage = True` makes `apps.connections.open` answer HTTP 503 (Slack is having trouble).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.doubles.loopback import serving_http
from tests.doubles.slack_web import block_action_payload, slash_command_fields

APP_TOKEN = "xapp-1-A0001-1234-coroner-test"


@dataclass(frozen=True)
class SocketAck:
    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float  # from the envelope being sent to its ack arriving


@dataclass
class SlackSocketDouble:
    api_url: str = ""
    opens: list[dict[str, str]] = field(default_factory=list)  # headers of each apps.connections.open
    hellos: int = 0
    open_connections: int = 0
    acks: dict[str, SocketAck] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)  # frames from the app that are not acks
    lock: threading.Condition = field(default_factory=threading.Condition)
    _tickets: set[str] = field(default_factory=set)
    _sent_at: dict[str, float] = field(default_factory=dict)
    _current: ServerConnection | None = None
    ws_port: int = 0
    outage: bool = False
    come_up: Callable[[], None] = field(default=lambda: None)  # set by running_slack_socket

    # -- what the HTTP endpoint and the WebSocket server call ---------------------------------------

    def issue_url(self) -> str:
        ticket = uuid.uuid4().hex
        with self.lock:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.ws_port}/link/?ticket={ticket}&app_id=A0001"

    def redeem(self, path: str) -> bool:
        query = parse_qs(urlsplit(path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self.lock:
            if urlsplit(path).path.rstrip("/") != "/link" or ticket not in self._tickets:
                return False
            self._tickets.discard(ticket)
            return True

    def serve_connection(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({
            "type": "hello", "num_connections": 1,
            "debug_info": {"host": "applink-double", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0001"},
        }))
        with self.lock:
            self._current = connection
            self.hellos += 1
            self.open_connections += 1
            self.lock.notify_all()
        try:
            for frame in connection:
                self._receive(str(frame))
        except ConnectionClosed:
            pass
        finally:
            with self.lock:
                if self._current is connection:
                    self._current = None
                self.open_connections -= 1
                self.lock.notify_all()

    def _receive(self, frame: str) -> None:
        message = json.loads(frame) if frame.startswith("{") else {}
        envelope_id = message.get("envelope_id")
        with self.lock:
            if envelope_id in self._sent_at and envelope_id not in self.acks:
                seconds = time.monotonic() - self._sent_at[envelope_id]
                self.acks[envelope_id] = SocketAck(envelope_id, message.get("payload"), seconds)
            else:
                self.unexpected.append(frame)
            self.lock.notify_all()

    # -- what tests call -------------------------------------------------------------------------------

    def wait_connected(self, hellos: int = 1, timeout: float = 10.0) -> None:
        """Wait until `hellos` connections were greeted and only the latest is still open (the app has
        let go of the ones it replaced)."""
        def settled() -> bool:
            return self.hellos >= hellos and self._current is not None and self.open_connections == 1

        with self.lock:
            if not self.lock.wait_for(settled, timeout):
                raise AssertionError(f"no {hellos} Socket Mode connection(s) with one open; got {self.hellos} "
                                     f"greeted, {self.open_connections} open")

    def send(self, envelope: dict[str, Any]) -> str:
        with self.lock:
            connection = self._current
            if connection is None:
                raise AssertionError("no open Socket Mode connection to send an envelope on")
            self._sent_at[envelope["envelope_id"]] = time.monotonic()
        connection.send(json.dumps(envelope))
        return str(envelope["envelope_id"])

    def send_slash_command(self, text: str, *, response_url: str, command: str = "/diagnose") -> str:
        return self.send({
            "envelope_id": str(uuid.uuid4()), "type": "slash_commands", "accepts_response_payload": True,
            "payload": slash_command_fields(text, response_url=response_url, command=command),
        })

    def send_block_action(self, value: str, *, response_url: str) -> str:
        return self.send({
            "envelope_id": str(uuid.uuid4()), "type": "interactive", "accepts_response_payload": False,
            "payload": block_action_payload(value, response_url=response_url),
        })

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """What Slack sends before it recycles a connection: the app is to open a new one."""
        with self.lock:
            connection = self._current
        assert connection is not None, "no open Socket Mode connection"
        connection.send(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-double"}}))

    def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a network failure would."""
        with self.lock:
            connection, self._current = self._current, None
        assert connection is not None, "no open Socket Mode connection"
        connection.socket.shutdown(socket.SHUT_RDWR)

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> SocketAck:
        with self.lock:
            if not self.lock.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout} s")
            return self.acks[envelope_id]


def _http_handler(double: SlackSocketDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with double.lock:
                double.opens.append(dict(self.headers.items()))
                double.lock.notify_all()
            answer: dict[str, Any]
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            status = HTTPStatus.OK
            if double.outage:
                status, answer = HTTPStatus.SERVICE_UNAVAILABLE, {"ok": False, "error": "service_unavailable"}
            elif self.path != "/api/apps.connections.open":
                answer = {"ok": False, "error": "unknown_method"}
            elif token.startswith("xapp-") and token != "xapp-invalid":
                answer = {"ok": True, "url": double.issue_url()}
            elif token.startswith(("xoxb-", "xoxp-")):
                answer = {"ok": False, "error": "not_allowed_token_type"}
            else:
                answer = {"ok": False, "error": "invalid_auth"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextlib.contextmanager
def running_slack_socket(*, listening: bool = True) -> Iterator[SlackSocketDouble]:
    double = SlackSocketDouble()

    def check_ticket(connection: ServerConnection, request: Request) -> Response | None:
        if double.redeem(request.path):
            return None
        return connection.respond(HTTPStatus.UNAUTHORIZED, "unknown or used ticket\n")

    ws_server: Server = serve(double.serve_connection, "127.0.0.1", 0, process_request=check_ticket,
                              compression=None)
    double.ws_port = ws_server.socket.getsockname()[1]
    ws_thread = threading.Thread(target=ws_server.serve_forever, daemon=True)
    ws_thread.start()

    try:
        with serving_http(_http_handler(double), listening=listening) as http:
            double.api_url, double.come_up = f"{http.url}/api/", http.come_up
            yield double
    finally:
        ws_server.shutdown()
        ws_thread.join(timeout=5)
