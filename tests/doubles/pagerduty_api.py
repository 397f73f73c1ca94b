"""A local double of PagerDuty's REST API v2 (REFERENCE.md §1.5, §5.1), for the incidents Coroner touches.

A stdlib `ThreadingHTTPServer` on port 0 answering, over the real wire format:
- `POST /incidents/{id}/notes`, `PUT /incidents/{id}`, `GET /incidents/{id}/log_entries`, `GET /incidents/{id}`;
- `Authorization: Token token=<key>` is checked (401, PagerDuty's error JSON, otherwise); a read-only key
  (`read_only_token`) may read but gets 403 on writes, as PagerDuty's read-only API keys do;
- writes need `From:` naming a known user's email (400 with PagerDuty's message when it is absent);
- `Accept: application/vnd.pagerduty+json;version=2` is required. Stricter than PagerDuty, which would
  fall back to the token's own API version: a client that forgets the header is caught here;
- an unknown incident is a 404; notes and status changes are recorded per incident and, as in PagerDuty,
  show up in the incident's log entries (`annotate_log_entry`, `acknowledge_log_entry`, ...);
- log entries page with `limit` (default 25, at most 100), `offset`, `more`, `total` (only with
  `total=true`), `since`/`until`; `offset + limit > 10000` is a 400.
- notes and status changes are stamped `created_at` with the double's `clock` at creation, as PagerDuty
  stamps them with its server's time: the wall clock by default; a sim scenario's test passes the sim's
  clock, so Coroner's note lands at the scenario's time, among the incident's other entries;
- `rate_limit_next(n, reset=...)` answers 429 with `ratelimit-*` headers; `fail_next(n, status=500)`
  answers 5xx; `delay_next(n, seconds)` answers late; `stop()` closes the socket (connection refused).

Every request is recorded; assertions poll `requests` / `wait_for` (a client may call from another thread).
`is_overview` is recorded but does not filter: which entries PagerDuty's overview keeps is not documented.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.clock import SystemClock
from bot.ports import Clock

API_TOKEN = "u+pd-test-token-abc123"
READ_ONLY_TOKEN = "u+pd-read-only-token-xyz"
ACCEPT = "application/vnd.pagerduty+json;version=2"
BASE_TIME = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)  # when the canned log entries below start

# PagerDuty's error bodies (docs/REST-API/14-Errors.md; the "From" message as PagerDuty words it).
AUTH_FAILED = {"message": "Authentication failed", "code": 2006}
ACCESS_DENIED = {"message": "Access Denied", "code": 2010}
NOT_FOUND = {"message": "Not Found", "code": 2100}
RATE_LIMITED = {"message": "Rate Limit Exceeded", "code": 2020}
INTERNAL = {"message": "An internal error has occurred. PagerDuty team has been notified.", "code": 2000}
FROM_MISSING = {
    "message": 'You must specify a user\'s email address in the "From" header to perform this action',
    "code": 2016,
}
REQUESTER_NOT_FOUND = {"message": "Requester User Not Found", "code": 1008}
BAD_TIME = "Invalid time values in 'since' and/or 'until' parameters"

Answer = tuple[int, Any, dict[str, str]]  # status, JSON body, extra headers


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class IncidentState:
    id: str
    status: str = "triggered"
    notes: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[tuple[str, str]] = field(default_factory=list)  # (status, From email)
    log_entries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PagerDutyApiDouble:
    url: str = ""
    token: str = API_TOKEN
    read_only_token: str = READ_ONLY_TOKEN
    users: dict[str, str] = field(
        default_factory=lambda: {
            "alice@example.com": "Alice", "bob@example.com": "Bob", "coroner@example.com": "Coroner"
        }
    )
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)  # PagerDuty's server time: stamps what the API creates
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    rate_limited: int = 0
    rate_limit_reset: str | None = "1"
    retry_after: str | None = None
    failing: int = 0
    failure_status: int = 500
    delayed: int = 0
    delay_seconds: float = 0.0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None

    # -- set-up -------------------------------------------------------------------------------------

    def add_incident(
        self, incident_id: str, *, status: str = "triggered", log_entries: list[dict[str, Any]] | None = None
    ) -> IncidentState:
        with self.lock:
            state = IncidentState(incident_id, status=status, log_entries=list(log_entries or []))
            self.incidents[incident_id] = state
            return state

    def rate_limit_next(self, n: int, *, reset: str | None = "1", retry_after: str | None = None) -> None:
        """The next `n` calls get 429 with `ratelimit-limit/remaining/reset` (and `Retry-After` if given);
        `reset=None` leaves the rate-limit headers out, as PagerDuty sometimes does."""
        with self.lock:
            self.rate_limited, self.rate_limit_reset, self.retry_after = n, reset, retry_after

    def fail_next(self, n: int, *, status: int = 500) -> None:
        with self.lock:
            self.failing, self.failure_status = n, status

    def delay_next(self, n: int, seconds: float) -> None:
        """The next `n` calls are handled (and recorded) normally, but answered after `seconds`."""
        with self.lock:
            self.delayed, self.delay_seconds = n, seconds

    # -- assertions ---------------------------------------------------------------------------------

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [
                r for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def wait_for(self, method: str, path: str, count: int = 1, timeout: float = 10.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [r for r in self.requests if r.method == method and r.path == path and r.status]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{r.method} {r.path}" for r in self.requests]
                    raise AssertionError(f"no {count} answered {method} {path}; got {seen}")
                self.lock.wait(left)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> PagerDutyApiDouble:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        # A short poll interval: `stop()` waits for the serving loop to notice, once per test.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="pagerduty-api-double", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Close the listening socket: from now on connections to `url` are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- behaviour ----------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def _log(self, state: IncidentState, entry_type: str, *, at: datetime, email: str, **extra: Any) -> None:
        state.log_entries.append(
            log_entry(self._next_id("R"), entry_type, at=at, agent=self.users[email], incident_id=state.id, **extra)
        )


def _handler(double: PagerDutyApiDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 (the default): one connection per request, so `stop()` really leaves nothing answering.
        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            record = Recorded(method, split.path, parse_qs(split.query), dict(self.headers.items()), body)
            with double.lock:
                double.requests.append(record)
                delay = 0.0
                if double.delayed > 0:
                    double.delayed -= 1
                    delay = double.delay_seconds
            status, payload, headers = self._answer(method, split.path, record)
            with double.lock:
                # Set before the answer leaves, so a client that has its answer sees the status recorded.
                record.status = status
            if delay:
                time.sleep(delay)
            self._send(status, payload, headers)
            with double.lock:
                double.lock.notify_all()

        def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to answer

        def _answer(self, method: str, path: str, record: Recorded) -> Answer:
            with double.lock:
                if double.rate_limited > 0:
                    double.rate_limited -= 1
                    headers = {}
                    if double.rate_limit_reset is not None:
                        headers = {"ratelimit-limit": "960", "ratelimit-remaining": "0",
                                   "ratelimit-reset": double.rate_limit_reset}
                    if double.retry_after is not None:
                        headers["Retry-After"] = double.retry_after
                    return 429, {"error": RATE_LIMITED}, headers
                if double.failing > 0:
                    double.failing -= 1
                    return double.failure_status, {"error": INTERNAL}, {}
                return _route(double, method, path, record)

    return Handler


def _route(double: PagerDutyApiDouble, method: str, path: str, record: Recorded) -> Answer:
    """The request's answer; called with `double.lock` held."""
    authorization = record.header("Authorization") or ""
    if authorization not in (f"Token token={double.token}", f"Token token={double.read_only_token}"):
        return 401, {"error": AUTH_FAILED}, {}
    if record.header("Accept") != ACCEPT:
        return 406, {"error": {"message": f"Accept must be {ACCEPT}", "code": 2001}}, {}
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "incidents":
        return 404, {"error": NOT_FOUND}, {}
    state = double.incidents.get(parts[1])
    if state is None:
        return 404, {"error": NOT_FOUND}, {}
    if method in ("POST", "PUT"):
        if authorization == f"Token token={double.read_only_token}":
            return 403, {"error": ACCESS_DENIED}, {}
        email = (record.header("From") or "").strip()
        if not email:
            return 400, {"error": FROM_MISSING}, {}
        if email not in double.users:
            return 400, {"error": REQUESTER_NOT_FOUND}, {}
        if not (record.header("Content-Type") or "").startswith("application/json"):
            return _invalid("Body is not JSON")
        if method == "POST" and parts[2:] == ["notes"]:
            return _add_note(double, state, email, record.body)
        if method == "PUT" and len(parts) == 2:
            return _update(double, state, email, record.body)
    if method == "GET" and len(parts) == 2:
        return 200, {"incident": _incident(state)}, {}
    if method == "GET" and parts[2:] == ["log_entries"]:
        return _log_entries(state, record.query)
    return 404, {"error": NOT_FOUND}, {}


def _invalid(detail: str) -> Answer:
    return 400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": [detail]}}, {}


def _add_note(double: PagerDutyApiDouble, state: IncidentState, email: str, body: Any) -> Answer:
    note = body.get("note") if isinstance(body, dict) else None
    content = note.get("content") if isinstance(note, dict) else None
    if not isinstance(content, str) or not content.strip():
        return _invalid("Content can't be blank")
    if len(state.notes) >= 2000:
        return _invalid("A maximum of 2000 notes can be added to an incident")
    now = double.clock.now()
    created = {
        "id": double._next_id("PN"),
        "user": _user_ref(double.users[email]),
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": content,
        "created_at": _iso(now),
    }
    state.notes.append(created)
    double._log(state, "annotate_log_entry", at=now, email=email, channel={"type": "note", "summary": content})
    return 200, {"note": created}, {}


def _update(double: PagerDutyApiDouble, state: IncidentState, email: str, body: Any) -> Answer:
    incident = body.get("incident") if isinstance(body, dict) else None
    if not isinstance(incident, dict) or incident.get("type") not in ("incident", "incident_reference"):
        return _invalid("Incident type must be incident or incident_reference")
    status = incident.get("status")
    if status not in ("acknowledged", "resolved", "triggered"):
        return _invalid("Status is not a valid status")
    state.status = status
    state.status_changes.append((status, email))
    entry_type = {"acknowledged": "acknowledge_log_entry", "resolved": "resolve_log_entry"}.get(status)
    if entry_type:
        double._log(state, entry_type, at=double.clock.now(), email=email, channel={"type": "api"})
    return 200, {"incident": _incident(state)}, {}


def _log_entries(state: IncidentState, query: dict[str, list[str]]) -> Answer:
    try:
        limit = min(int(query.get("limit", ["25"])[0]), 100)
        offset = int(query.get("offset", ["0"])[0])
    except ValueError:
        return _invalid("limit and offset must be integers")
    if limit < 1 or offset < 0:
        return _invalid("limit and offset must be positive")
    if offset + limit > 10_000:
        return _invalid("Offset plus limit must not exceed 10000")
    entries = state.log_entries
    for name, keep in (("since", lambda at, bound: at >= bound), ("until", lambda at, bound: at < bound)):
        if name in query:
            try:
                bound = datetime.fromisoformat(query[name][0].replace("Z", "+00:00"))
            except ValueError:
                return 400, {"error": {"message": BAD_TIME, "code": 2004}}, {}
            entries = [e for e in entries if keep(_created(e), bound)]
    page = entries[offset : offset + limit]
    total = len(entries) if query.get("total") == ["true"] else None
    return 200, {"log_entries": page, "limit": limit, "offset": offset,
                 "more": offset + len(page) < len(entries), "total": total}, {}


def _created(entry: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(entry.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return BASE_TIME  # a malformed entry a test planted: kept, PagerDuty-side filtering is not its concern


def _incident(state: IncidentState) -> dict[str, Any]:
    return {"id": state.id, "type": "incident", "status": state.status,
            "self": f"https://api.pagerduty.com/incidents/{state.id}",
            "html_url": f"https://example.pagerduty.com/incidents/{state.id}"}


# -- log entries shaped like PagerDuty's --------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _user_ref(name: str) -> dict[str, Any]:
    uid = "PU" + name.upper()[:5]
    return {"id": uid, "type": "user_reference", "summary": name,
            "self": f"https://api.pagerduty.com/users/{uid}", "html_url": f"https://example.pagerduty.com/users/{uid}"}


def _service_ref(name: str) -> dict[str, Any]:
    return {"id": "PSVC01", "type": "service_reference", "summary": name,
            "self": "https://api.pagerduty.com/services/PSVC01",
            "html_url": "https://example.pagerduty.com/service-directory/PSVC01"}


def log_entry(
    entry_id: str,
    entry_type: str,
    *,
    at: datetime,
    agent: str | None = None,
    service: str | None = None,
    channel: dict[str, Any] | None = None,
    incident_id: str = "PGR0VU2",
    summary: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One log entry as `GET /incidents/{id}/log_entries` lists it: a user `agent` or a `service` agent."""
    entry: dict[str, Any] = {
        "id": entry_id,
        "type": entry_type,
        "summary": summary or entry_type.removesuffix("_log_entry").replace("_", " ").capitalize(),
        "self": f"https://api.pagerduty.com/log_entries/{entry_id}?incident_id={incident_id}",
        "html_url": f"https://example.pagerduty.com/incidents/{incident_id}/log_entries/{entry_id}",
        "created_at": _iso(at),
        "agent": _user_ref(agent) if agent else (_service_ref(service) if service else None),
        "channel": channel or {"type": "auto"},
        "incident": {"id": incident_id, "type": "incident_reference"},
        "teams": [],
        "contexts": [],
    }
    entry.update(extra)
    return entry


def trigger_entry(entry_id: str, *, at: datetime, service: str = "user-profile-service") -> dict[str, Any]:
    return log_entry(entry_id, "trigger_log_entry", at=at, service=service, channel={"type": "api"},
                     summary="Triggered through the API")


def notify_entry(entry_id: str, *, at: datetime, user: str, method: str = "sms") -> dict[str, Any]:
    """A notification: the notified `user`, and how (`sms`, `email`, `phone`, `push`) under channel.notification."""
    return log_entry(
        entry_id, "notify_log_entry", at=at, service="user-profile-service",
        channel={"type": "auto", "notification": {"type": f"{method}_notification", "status": "success",
                                                  "address": None if method == "push" else f"{user.lower()}-{method}"}},
        user=_user_ref(user), summary=f"Notified {user} by {method}",
    )


def acknowledge_entry(entry_id: str, *, at: datetime, user: str, via: str = "sms") -> dict[str, Any]:
    return log_entry(entry_id, "acknowledge_log_entry", at=at, agent=user, channel={"type": via},
                     summary=f"Acknowledged by {user}", acknowledgement_timeout=None)


def escalate_entry(entry_id: str, *, at: datetime, level: int, assignees: list[str]) -> dict[str, Any]:
    """An escalation by timeout; the level is in PagerDuty's summary, the new assignees in `assignees`."""
    return log_entry(
        entry_id, "escalate_log_entry", at=at, service="user-profile-service", channel={"type": "timeout"},
        summary=f"Escalated to level {level} by timeout", assignees=[_user_ref(a) for a in assignees],
    )


def resolve_entry(entry_id: str, *, at: datetime, user: str) -> dict[str, Any]:
    return log_entry(entry_id, "resolve_log_entry", at=at, agent=user, channel={"type": "website"},
                     summary=f"Resolved by {user}")


def incident_story(start: datetime = BASE_TIME, *, resolved_after: timedelta = timedelta(minutes=52)
                   ) -> list[dict[str, Any]]:
    """A typical night: triggered, Alice paged by SMS and push, escalated to Bob, Bob acknowledges and resolves
    `resolved_after` the trigger."""
    return [
        trigger_entry("R01", at=start),
        notify_entry("R02", at=start + timedelta(seconds=5), user="Alice", method="sms"),
        notify_entry("R03", at=start + timedelta(seconds=6), user="Alice", method="push"),
        escalate_entry("R04", at=start + timedelta(minutes=15), level=2, assignees=["Bob"]),
        notify_entry("R05", at=start + timedelta(minutes=15, seconds=4), user="Bob", method="phone"),
        acknowledge_entry("R06", at=start + timedelta(minutes=18), user="Bob"),
        resolve_entry("R07", at=start + resolved_after, user="Bob"),
    ]
