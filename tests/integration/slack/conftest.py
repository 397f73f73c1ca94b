"""A local double of the Slack Web API, the way bolt-python tests itself (REFERENCE.md §2.6).

A real HTTP server on port 0 answers Web API methods over the real wire format:
- a bearer `xoxb-…` token is accepted, anything else gets `invalid_auth`;
- `auth.test` returns a canned bot identity;
- `chat.postMessage` is recorded and answered with a `ts`, refusing what Slack refuses
  (no channel, more than 50 blocks, blocks too long, `not_in_channel` for a channel listed in
  `channels_without_bot`);
- `chat.update` edits a message posted before, and answers `message_not_found` for a channel and `ts`
  that name none (the same block rules apply);
- `xoxb-ratelimited` always gets HTTP 429, and `rate_limit_next(n)` makes the next n calls 429,
  both with `Retry-After`;
- `/webhook/...` stands for `response_url` and records what the app posts there.
Assertions poll the recorded requests, since lazy listeners answer from another thread.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

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
    channels_without_bot: set[str] = field(default_factory=set)
    # (channel, ts) -> the message as last posted or updated
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

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
                self._update_message(body)
            else:
                self._send(200, {"ok": True})

        def _blocks_refused(self, body: dict[str, Any]) -> bool:
            blocks = body.get("blocks") or []
            if isinstance(blocks, str):
                blocks = json.loads(blocks)
            error = None
            if len(blocks) > 50:
                error = "invalid_blocks"
            elif len(json.dumps(blocks)) > 13_000:
                error = "msg_blocks_too_long"
            if error:
                self._send(200, {"ok": False, "error": error})
            return error is not None

        def _post_message(self, body: dict[str, Any]) -> None:
            if not body.get("channel"):
                self._send(200, {"ok": False, "error": "channel_not_found"})
                return
            if body["channel"] in double.channels_without_bot:
                self._send(200, {"ok": False, "error": "not_in_channel"})
                return
            if self._blocks_refused(body):
                return
            with double.lock:
                double.ts_counter += 1
                ts = f"1715655731.{double.ts_counter:06d}"
                double.messages[(body["channel"], ts)] = body
            self._send(200, {"ok": True, "channel": body["channel"], "ts": ts,
                             "message": {"text": body.get("text"), "ts": ts}})

        def _update_message(self, body: dict[str, Any]) -> None:
            key = (body.get("channel") or "", body.get("ts") or "")
            with double.lock:
                known = key in double.messages
            if not known:
                self._send(200, {"ok": False, "error": "message_not_found"})
                return
            if self._blocks_refused(body):
                return
            with double.lock:
                double.messages[key] = body
            self._send(200, {"ok": True, "channel": key[0], "ts": key[1], "text": body.get("text")})

    return Handler


@contextlib.contextmanager
def serve_slack_double() -> Iterator[SlackDouble]:
    """The double on a free loopback port until the block ends (also used by bench/slack_diagnose.py)."""
    double = SlackDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slack_api() -> Iterator[SlackDouble]:
    with serve_slack_double() as double:
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


def slash_command_body(text: str, *, response_url: str, command: str = "/diagnose", channel_id: str = "C0INC") -> str:
    return urlencode({
        "token": "deprecated", "team_id": "T0001", "team_domain": "coroner-test", "channel_id": channel_id,
        "channel_name": "incidents", "user_id": "U0ONCALL", "user_name": "oncall", "command": command,
        "text": text, "response_url": response_url, "trigger_id": "1.2.3", "api_app_id": "A0001",
        "is_enterprise_install": "false",
    })


def block_action_body(value: str, *, response_url: str) -> str:
    payload = {
        "type": "block_actions", "team": {"id": "T0001", "domain": "coroner-test"},
        "user": {"id": "U0ONCALL", "username": "oncall", "team_id": "T0001"}, "api_app_id": "A0001",
        "token": "deprecated", "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0INC"},
        "trigger_id": "1.2.3", "channel": {"id": "C0INC", "name": "incidents"}, "response_url": response_url,
        "actions": [{"type": "button", "action_id": "coroner_rollback", "block_id": "rollback_actions",
                     "value": value, "text": {"type": "plain_text", "text": "Roll back"}, "action_ts": "1.3"}],
    }
    return urlencode({"payload": json.dumps(payload)})


@dataclass
class FakeDiagnosis:
    """A diagnosis as the engine would hand it over: only `to_json()` matters to the Slack surface."""

    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data


def story_diagnosis(service: str, findings: list[dict[str, Any]] | None = None) -> FakeDiagnosis:
    return FakeDiagnosis({
        "service": service,
        "target": {"context": "prod-eu", "namespace": "prod", "kind": "Deployment", "name": service},
        "findings": findings if findings is not None else [
            {"rule": "node-disk-high", "severity": "critical", "title": "imagefs 97% on node-3",
             "evidence": {"node": "node-3", "imagefs_used_ratio": 0.97}},
            {"rule": "fat-layer", "severity": "high", "title": "Layer 3 COPY . . adds 1.8 GB",
             "evidence": {"layer": 3, "bytes": 1932735283}},
        ],
        "rollback_candidates": [
            {"revision": 7, "image": "registry.local/ups:7", "size_bytes": 230686720, "healthy": True,
             "recommended": True,
             "undo_command": f"kubectl rollout undo deployment/{service} -n prod --to-revision=7"},
            {"revision": 8, "image": "registry.local/ups:8", "size_bytes": 4509715660, "healthy": False},
        ],
        "timeline": [{"at": "2024-05-14T03:02:11+00:00", "source": "pagerduty", "text": "PagerDuty triggers."}],
        "duration_ms": 640,
    })


DiagnoseFn = Callable[[str], FakeDiagnosis]


@pytest.fixture
def kit() -> Any:
    """The helpers above, as a fixture: test modules cannot import conftest under importlib mode."""
    from types import SimpleNamespace

    return SimpleNamespace(
        sign=sign, slash=slash_command_body, action=block_action_body, story=story_diagnosis,
        FakeDiagnosis=FakeDiagnosis, secret=SIGNING_SECRET, token=BOT_TOKEN,
    )


@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    """Run ASGI apps under a real uvicorn on port 0; yields a starter that returns the base URL."""
    from bot.server import serving

    with contextlib.ExitStack() as stack:
        yield lambda asgi_app: stack.enter_context(serving(asgi_app, lifespan="off"))


class SlashHarness:
    """The Slack app under uvicorn with `/diagnose`'s collaborators as recorders:
    `start(diagnose=..., **create_slack_app options)` returns an httpx client on it (`create_app` only
    builds the app); `diagnosed` lists the
    services diagnosed, `runs` the `SlashRun`s handed to `record_run`, `incident_threads` maps a service
    name to its open incident's (channel, thread_ts)."""

    def __init__(self, slack_api: SlackDouble, serve: Callable[[Any], str]) -> None:
        self.slack_api, self._serve = slack_api, serve
        self.diagnosed: list[Any] = []
        self.runs: list[Any] = []
        self.incident_threads: dict[str, tuple[str, str]] = {}
        self._recorded = threading.Condition()

    def story(self, service: Any, on_check_done: Callable[[str, str], None]) -> FakeDiagnosis:
        self.diagnosed.append(service)
        return story_diagnosis(service.name)

    def record_run(self, run: Any) -> None:
        with self._recorded:
            self.runs.append(run)
            self._recorded.notify_all()

    def incident_thread_for(self, service: Any) -> Any:
        from bot.slack.diagnose_command import IncidentThread

        found = self.incident_threads.get(service.name)
        return IncidentThread(*found) if found else None

    def create_app(self, diagnose: Any = None, **options: Any) -> Any:
        from slack_sdk import WebClient

        from bot.slack.app import create_slack_app

        collaborators: dict[str, Any] = {
            "diagnose": diagnose or self.story, "record_run": self.record_run,
            "incident_thread_for": self.incident_thread_for,
            "client": WebClient(token=BOT_TOKEN, base_url=self.slack_api.api_url),
        }
        return create_slack_app(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, **{**collaborators, **options})

    def start(self, diagnose: Any = None, **options: Any) -> Any:
        import httpx

        from bot.slack.asgi import slack_asgi_app

        return httpx.Client(base_url=self._serve(slack_asgi_app(self.create_app(diagnose, **options))), timeout=10)

    def command(self, client: Any, text: str, *, response_url: str | None = None, channel_id: str = "C0INC",
                **sign_args: Any) -> Any:
        body = slash_command_body(text, response_url=response_url or self.slack_api.webhook(), channel_id=channel_id)
        return client.post("/slack/events", content=body, headers=sign(body, **sign_args))

    def wait_runs(self, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The runs once `count` have been recorded: each run is recorded after its answer is out."""
        with self._recorded:
            if not self._recorded.wait_for(lambda: len(self.runs) >= count, timeout):
                raise AssertionError(f"{len(self.runs)} of {count} /diagnose runs recorded")
            return list(self.runs)

    def channel_messages(self, channel: str = "C0INC") -> list[dict[str, Any]]:
        """The messages of `channel` as they stand now (after every chat.update), oldest first."""
        with self.slack_api.lock:
            return [body for (where, _), body in sorted(self.slack_api.messages.items()) if where == channel]


@pytest.fixture
def slash(slack_api: SlackDouble, serve_asgi: Callable[[Any], str]) -> SlashHarness:
    return SlashHarness(slack_api, serve_asgi)
