"""A local double of the Slack Web API, the way bolt-python tests itself (REFERENCE.md §2.6).

A real HTTP server on port 0 answers Web API methods over the real wire format:
- a bearer `xoxb-…` token is accepted, anything else gets `invalid_auth`;
- `auth.test` returns a canned bot identity;
- `chat.postMessage` is recorded and answered with a `ts`, refusing what Slack refuses
  (no channel, more than 50 blocks, blocks too long, `not_in_channel` for a channel listed in
  `channels_without_bot`);
- `chat.update` edits a message posted before (`messages` holds each as it stands now), and answers
  `message_not_found` for a channel and `ts` that name none;
- `xoxb-ratelimited` always gets HTTP 429, and `rate_limit_next(n)` makes the next n calls 429,
  both with `Retry-After`;
- `/webhook/...` stands for `response_url` and records what the app posts there.
Assertions poll the recorded requests, since lazy listeners answer from another thread.
`running_slack_web(listening=False)` binds the port without accepting connections: Slack is down
until the test calls `come_up()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode

from bot.domain import (
    Finding,
    RollbackCandidate,
    RollbackDecision,
    Severity,
    Target,
    TimelineEntry,
)
from bot.engine.diagnose import Diagnosis
from tests.doubles.loopback import serving_http

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1234-coroner-test"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class SlackDouble:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    rate_limited: int = 0
    retry_after: str = "0"
    ts_counter: int = 100
    come_up: Callable[[], None] = field(default=lambda: None)  # set by running_slack_web
    down: bool = False  # answer every Web API call with HTTP 503, as during a Slack outage
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (channel, ts) -> message
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # users.info answers
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # usergroups.users.list answers
    channels_without_bot: set[str] = field(default_factory=set)  # chat.postMessage: not_in_channel

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def webhook(self, name: str = "T1/B1/xyz") -> str:
        return f"{self.url}/webhook/{name}"

    def rate_limit_next(self, n: int) -> None:
        with self.lock:
            self.rate_limited = n

    def record(self, item: Recorded) -> None:
        with self.lock:
            self.requests.append(item)
            self.lock.notify_all()

    def calls(self, path: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == path or r.path.startswith(path.rstrip("*"))]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [r for r in self.requests if r.path.startswith(path)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {count} request(s) to {path}; got {[r.path for r in self.requests]}")
                self.lock.wait(left)


def _handler(double: SlackDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if not raw:
                return {}
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                return json.loads(raw)
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def do_POST(self) -> None:
            body = self._body()
            double.record(Recorded(self.path, dict(self.headers.items()), body))
            if self.path.startswith("/webhook/"):
                self._send(200, b"ok")
                return
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or body.get("token", "")
            with double.lock:
                limited = token == "xoxb-ratelimited" or double.rate_limited > 0
                if double.rate_limited > 0:
                    double.rate_limited -= 1
            if limited:
                self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": double.retry_after})
                return
            if double.down:
                self._send(503, b"upstream unavailable")
                return
            if not token.startswith("xoxb-") or token == "xoxb-invalid":
                self._send(200, {"ok": False, "error": "invalid_auth"})
                return
            method = self.path.removeprefix("/api/")
            if method == "auth.test":
                self._send(200, {"ok": True, "url": "https://coroner-test.slack.com/", "team": "Coroner Test",
                                 "user": "coroner", "team_id": "T0001", "user_id": "U0BOT", "bot_id": "B0001",
                                 "is_enterprise_install": False})
            elif method == "chat.postMessage":
                self._post_message(body)
            elif method == "chat.update":
                key = (str(body.get("channel")), str(body.get("ts")))
                with double.lock:
                    known = key in double.messages
                    if known:
                        double.messages[key] = {**double.messages[key], **body}
                if known:
                    self._send(200, {"ok": True, "channel": key[0], "ts": key[1]})
                else:
                    self._send(200, {"ok": False, "error": "message_not_found"})
            elif method == "users.info":
                user = double.users.get(str(body.get("user")))
                self._send(200, {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"})
            elif method == "usergroups.users.list":
                members = double.usergroups.get(str(body.get("usergroup")))
                self._send(200, {"ok": True, "users": members} if members is not None
                           else {"ok": False, "error": "no_such_subteam"})
            elif method == "views.open":
                view = body.get("view")
                view = json.loads(view) if isinstance(view, str) else view or {}
                self._send(200, {"ok": True, "view": {"id": "V0001", **view}})
            else:
                self._send(200, {"ok": True})

        def _post_message(self, body: dict[str, Any]) -> None:
            if not body.get("channel"):
                self._send(200, {"ok": False, "error": "channel_not_found"})
                return
            if body["channel"] in double.channels_without_bot:
                self._send(200, {"ok": False, "error": "not_in_channel"})
                return
            blocks = body.get("blocks") or []
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            if len(blocks) > 50:
                self._send(200, {"ok": False, "error": "invalid_blocks"})
                return
            if len(json.dumps(blocks)) > 13_000:
                self._send(200, {"ok": False, "error": "msg_blocks_too_long"})
                return
            with double.lock:
                double.ts_counter += 1
                ts = f"1715655731.{double.ts_counter:06d}"
                double.messages[(str(body["channel"]), ts)] = dict(body)
            self._send(200, {"ok": True, "channel": body["channel"], "ts": ts,
                             "message": {"text": body.get("text"), "ts": ts}})

    return Handler


@contextlib.contextmanager
def running_slack_web(*, listening: bool = True) -> Iterator[SlackDouble]:
    """Serve the double on a loopback port. With `listening=False` the port is bound but refuses
    connections (Slack is down) until `double.come_up()`: the URL is known before Slack is up."""
    double = SlackDouble()
    with serving_http(_handler(double), listening=listening) as server:
        double.url, double.come_up = server.url, server.come_up
        yield double


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` (python-slack-sdk's format)."""
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    # Cross-check against the documented formula, so the double cannot drift from the spec.
    expected = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    assert signature == expected
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command_fields(text: str, *, response_url: str, command: str = "/diagnose",
                         channel_id: str = "C0INC") -> dict[str, str]:
    """The fields of a slash command (REFERENCE.md §2.1): form-encoded over HTTP, a JSON object in a
    Socket Mode envelope."""
    return {
        "token": "deprecated", "team_id": "T0001", "team_domain": "coroner-test", "channel_id": channel_id,
        "channel_name": "incidents", "user_id": "U0ONCALL", "user_name": "oncall", "command": command,
        "text": text, "response_url": response_url, "trigger_id": "1.2.3", "api_app_id": "A0001",
        "is_enterprise_install": "false",
    }


def slash_command_body(text: str, *, response_url: str, command: str = "/diagnose", channel_id: str = "C0INC") -> str:
    return urlencode(slash_command_fields(text, response_url=response_url, command=command, channel_id=channel_id))


def block_action_payload(value: str, *, response_url: str) -> dict[str, Any]:
    """A click on the rollback button: `payload=<json>` over HTTP, the envelope's payload in Socket Mode."""
    return {
        "type": "block_actions", "team": {"id": "T0001", "domain": "coroner-test"},
        "user": {"id": "U0ONCALL", "username": "oncall", "team_id": "T0001"}, "api_app_id": "A0001",
        "token": "deprecated", "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0INC"},
        "trigger_id": "1.2.3", "channel": {"id": "C0INC", "name": "incidents"}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": "coroner_rollback", "block_id": "rollback_actions",
                     "value": value, "text": {"type": "plain_text", "text": "Roll back"}, "action_ts": "1.3"}],
    }


def block_action_body(value: str, *, response_url: str) -> str:
    return urlencode({"payload": json.dumps(block_action_payload(value, response_url=response_url))})


def story_diagnosis(service: str, findings: list[Finding] | None = None) -> Diagnosis:
    """A diagnosis as the engine hands it over: the typed `Diagnosis` every sink renders."""
    undo = f"kubectl rollout undo deployment/{service} -n prod --to-revision=7"
    return Diagnosis(
        service=service,
        target=Target(context="prod-eu", namespace="prod", kind="Deployment", name=service),
        findings=tuple(findings if findings is not None else [
            Finding("node-disk-high", Severity.CRITICAL, "imagefs 97% on node-3",
                    {"node": "node-3", "imagefs_used_ratio": 0.97}),
            Finding("fat-layer", Severity.HIGH, "Layer 3 COPY . . adds 1.8 GB", {"layer": 3, "bytes": 1932735283}),
        ]),
        rollback_candidates=(
            RollbackCandidate(7, "registry.local/ups:7", 230686720, True, recommended=True, undo_command=undo),
            RollbackCandidate(8, "registry.local/ups:8", 4509715660, False),
        ),
        timeline=(TimelineEntry(datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC), "pagerduty", "PagerDuty triggers.",
                                "pagerduty:story"),),
        duration_ms=640,
        rollback=RollbackDecision(True, 7, "revision 8's image grew 19.5× and its pods cannot start",
                                  ("image-size-regression",)),
    )

