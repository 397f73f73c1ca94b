"""PagerDuty REST API v2, the three calls Coroner makes: a note, a status change, the log entries.

Wire format (REFERENCE.md §1.5, §5.1): `Authorization: Token token=<key>`, `Accept:
application/vnd.pagerduty+json;version=2` (without it the token's own API version answers), and on
writes a `From: <email of a PagerDuty user>` header naming who acts. Errors come back as
`{"error": {"message": ..., "code": ..., "errors": [...]}}`.

Failures, and what each becomes:
- 429: wait what `ratelimit-reset` (or `Retry-After`) asks, a bounded number of times; when PagerDuty asks
  for longer than `max_wait`, give up at once rather than hold a Slack click or a worker hostage.
- 5xx, connection failures: retried a couple of times, then `PagerDutyUnavailable`. A note is a POST, so
  a timeout *after* it was sent is not retried: PagerDuty may have stored it, and a retry would write it twice.
- any other 4xx: `PagerDutyApiError` at once, one line with the call, the status and PagerDuty's message.
The token never appears in a message, a log line or `repr`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from bot.clock import SystemClock
from bot.domain import TimelineEntry
from bot.ports import Clock, CoronerError
from bot.printable import clip
from bot.settings import Settings

log = logging.getLogger(__name__)

PAGERDUTY_API_URL = "https://api.pagerduty.com"
ACCEPT = "application/vnd.pagerduty+json;version=2"

# PagerDuty documents no maximum for a note's content (only 2000 notes per incident); a diagnosis
# summary is a few hundred characters, so this bound only stops a runaway one, with a visible marker.
NOTE_CONTENT_LIMIT = 25_000
TRUNCATED_MARKER = "\n[… truncated by Coroner; the full diagnosis is in Slack]"

# Classic pagination: at most 100 per page, and offset + limit may not pass 10000 (400 otherwise).
PAGE_LIMIT = 100
MAX_RECORDS = 10_000

STATUSES = ("acknowledged", "resolved")
_INCIDENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TIMELINE_SOURCE = "pagerduty"

# Outcomes told to `on_call(method, outcome)`, once per HTTP attempt: a metrics counter hooks in there.
OK = "ok"
RATE_LIMITED = "rate_limited"
CLIENT_ERROR = "client_error"
SERVER_ERROR = "server_error"
UNREACHABLE = "unreachable"


class PagerDutyError(CoronerError):
    """A PagerDuty REST call failed. `call` names it (`add_note PGR0VU2`); `status` is the HTTP status
    when PagerDuty answered."""

    def __init__(self, message: str, *, call: str, status: int | None = None) -> None:
        super().__init__(message)
        self.call = call
        self.status = status


class PagerDutyApiError(PagerDutyError):
    """PagerDuty refused the call (401, 403, 404, 400, ...): retrying the same call will not help.
    `code` is PagerDuty's error code when it gave one (2006 authentication failed, 2100 not found, ...)."""

    def __init__(self, message: str, *, call: str, status: int, code: int | None = None) -> None:
        super().__init__(message, call=call, status=status)
        self.code = code


class PagerDutyUnavailable(PagerDutyError):
    """PagerDuty could not be reached, kept failing (5xx), or kept rate-limiting us: try again later.
    `retry_after` is how long PagerDuty asked to wait, when it said."""

    def __init__(
        self, message: str, *, call: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, call=call, status=status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class LogEntry:
    """One PagerDuty incident log entry, with the fields the timeline uses. Unknown types are kept.

    `agent_name` is who acted (a user, or the service for automatic actions); `user_name` is who was
    notified (`notify_log_entry`); `notification_method` is how (`sms`, `email`, `phone`, `push`).
    """

    id: str
    type: str
    created_at: datetime
    summary: str = ""
    agent_name: str | None = None
    agent_type: str | None = None
    channel_type: str | None = None
    user_name: str | None = None
    notification_method: str | None = None
    assignees: tuple[str, ...] = ()
    escalation_level: int | None = None
    note: str | None = None


def truncate_note(content: str, limit: int = NOTE_CONTENT_LIMIT) -> str:
    """`content` if it fits, else its head and `TRUNCATED_MARKER`, `limit` characters in all."""
    return clip(content, limit, marker=TRUNCATED_MARKER)


class PagerDutyClient:
    """Synchronous client over httpx. `sleep` and `clock` are injectable so tests do not wait; `on_call`
    is told `(method, outcome)` for every HTTP attempt (`method` is `add_note`, `set_status` or
    `log_entries`; `outcome` one of `ok`, `rate_limited`, `client_error`, `server_error`, `unreachable`)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float = 10,
        max_retries: int = 2,
        max_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock | None = None,
        on_call: Callable[[str, str], None] | None = None,
    ) -> None:
        if not token:
            raise ValueError("a PagerDuty API token is required")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Token token={token}", "Accept": ACCEPT},
        )
        self.base_url = base_url.rstrip("/")
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock or SystemClock()
        self._on_call = on_call

    def __repr__(self) -> str:  # the default would be harmless today; this one stays harmless
        return f"PagerDutyClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PagerDutyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls ----------------------------------------------------------------------------------

    def add_note(self, incident_id: str, *, content: str, from_email: str) -> str:
        """Add a note to the incident as the PagerDuty user `from_email`; returns the note's id.
        Content longer than `NOTE_CONTENT_LIMIT` is cut, with `TRUNCATED_MARKER` at the end."""
        body = self._request(
            "add_note",
            incident_id,
            "POST",
            f"/incidents/{incident_id}/notes",
            json={"note": {"content": truncate_note(content)}},
            from_email=from_email,
        )
        note = body.get("note")
        if not isinstance(note, Mapping) or not isinstance(note.get("id"), str):
            # Not `PagerDutyUnavailable`: the note may well be stored, and a retry would write it twice.
            raise PagerDutyError(
                f"add_note {incident_id}: PagerDuty's answer has no note id", call=f"add_note {incident_id}"
            )
        return note["id"]

    def set_status(
        self, incident_id: str, *, status: Literal["acknowledged", "resolved"], from_email: str
    ) -> None:
        """Acknowledge or resolve the incident as the PagerDuty user `from_email` (who clicked)."""
        if status not in STATUSES:
            raise PagerDutyError(
                f"set_status {incident_id}: status must be one of {', '.join(STATUSES)}, not {status!r}",
                call=f"set_status {incident_id}",
            )
        self._request(
            "set_status",
            incident_id,
            "PUT",
            f"/incidents/{incident_id}",
            json={"incident": {"type": "incident_reference", "status": status}},
            from_email=from_email,
        )

    def log_entries(
        self, incident_id: str, *, since: datetime | None = None, overview: bool = True
    ) -> list[LogEntry]:
        """The incident's log entries, oldest first as PagerDuty lists them, every page up to PagerDuty's
        10000-record ceiling. Malformed entries are skipped with a log line; unknown types are kept."""
        params: dict[str, str | int] = {"is_overview": "true" if overview else "false", "time_zone": "UTC"}
        if since is not None:
            params["since"] = _iso(since)
        entries: list[LogEntry] = []
        offset = 0
        while True:
            page = self._request(
                "log_entries",
                incident_id,
                "GET",
                f"/incidents/{incident_id}/log_entries",
                params={**params, "limit": min(PAGE_LIMIT, MAX_RECORDS - offset), "offset": offset},
            )
            raw = page.get("log_entries")
            if not isinstance(raw, list):
                raise PagerDutyError(
                    f"log_entries {incident_id}: PagerDuty's answer has no log_entries list",
                    call=f"log_entries {incident_id}",
                )
            entries.extend(parse_log_entries(raw, incident_id=incident_id))
            offset += len(raw)
            if page.get("more") is not True or not raw:
                return entries
            if offset >= MAX_RECORDS:
                log.warning(
                    "PagerDuty log entries past the pagination ceiling were not read",
                    extra={"incident_id": incident_id, "read": offset, "ceiling": MAX_RECORDS},
                )
                return entries

    # -- HTTP ---------------------------------------------------------------------------------------

    def _request(
        self,
        method_name: str,
        incident_id: str,
        verb: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        from_email: str | None = None,
    ) -> dict[str, Any]:
        call = f"{method_name} {incident_id}"
        if not _INCIDENT_ID.fullmatch(incident_id):
            # PagerDuty ids are short alphanumerics; anything else would change the path it lands on.
            raise PagerDutyError(f"{method_name}: not a PagerDuty incident id: {incident_id[:80]!r}", call=call)
        headers = {"From": from_email} if from_email is not None else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(verb, path, params=params, json=json, headers=headers)
            except httpx.TransportError as exc:
                self._count(method_name, UNREACHABLE)
                if attempt > self._max_retries or not _safe_to_resend(verb, exc):
                    raise PagerDutyUnavailable(
                        f"{call}: PagerDuty is unreachable ({type(exc).__name__}) after {attempt} attempt(s)",
                        call=call,
                    ) from exc
                self._pause(self._backoff(attempt))
                continue

            status = response.status_code
            if status < 300:
                self._count(method_name, OK)
                return _json_object(response)
            if status == 429:
                self._count(method_name, RATE_LIMITED)
                asked = self._retry_after(response)
                if attempt > self._max_retries or (asked is not None and asked > self._max_wait):
                    wait = f"; PagerDuty asks to wait {asked:g}s" if asked is not None else ""
                    raise PagerDutyUnavailable(
                        f"{call}: rate limited by PagerDuty (429) after {attempt} attempt(s){wait}",
                        call=call,
                        status=429,
                        retry_after=asked,
                    )
                self._pause(asked if asked is not None else self._backoff(attempt))
                continue
            if status >= 500:
                self._count(method_name, SERVER_ERROR)
                if attempt > self._max_retries:
                    raise PagerDutyUnavailable(
                        f"{call}: PagerDuty answered {status} after {attempt} attempt(s): {_error_message(response)}",
                        call=call,
                        status=status,
                    )
                self._pause(self._backoff(attempt))
                continue
            self._count(method_name, CLIENT_ERROR)
            raise PagerDutyApiError(
                f"{call}: PagerDuty answered {status}: {_error_message(response)}",
                call=call,
                status=status,
                code=_error_code(response),
            )

    def _count(self, method_name: str, outcome: str) -> None:
        if self._on_call is not None:
            self._on_call(method_name, outcome)

    def _pause(self, seconds: float) -> None:
        self._sleep(min(max(seconds, 0.0), self._max_wait))

    def _backoff(self, attempt: int) -> float:
        return min(0.5 * 2 ** (attempt - 1), self._max_wait)

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds PagerDuty asks us to wait: `ratelimit-reset` (PagerDuty's own), else `Retry-After`
        (seconds or an HTTP date). None when neither says."""
        for name in ("ratelimit-reset", "Retry-After"):
            value = response.headers.get(name, "").strip()
            if not value:
                continue
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - self._clock.now()).total_seconds())
        return None


def _safe_to_resend(verb: str, exc: httpx.TransportError) -> bool:
    """GET and PUT (a status) are idempotent; a POST is resent only if it surely never left."""
    if verb in ("GET", "PUT"):
        return True
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_body(response: httpx.Response) -> Mapping[str, Any]:
    error = _json_object(response).get("error")
    return error if isinstance(error, Mapping) else {}


def _error_message(response: httpx.Response) -> str:
    """PagerDuty's `error.message` and its details, on one line; the reason phrase when there is none."""
    error = _error_body(response)
    message = str(error.get("message") or response.reason_phrase or "no message")
    details = [str(d) for d in error.get("errors") or [] if d]
    if details:
        message += f" ({'; '.join(details)})"
    return " ".join(message.split())[:300]


def _error_code(response: httpx.Response) -> int | None:
    code = _error_body(response).get("code")
    return code if isinstance(code, int) else None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- log entries -------------------------------------------------------------------------------------

_LEVEL = re.compile(r"\blevel (\d+)\b", re.IGNORECASE)


def parse_log_entries(raw: Iterable[Any], *, incident_id: str = "?") -> list[LogEntry]:
    """Every entry that has an id, a type and a valid `created_at`; the rest are logged and skipped."""
    entries = []
    for item in raw:
        entry = parse_log_entry(item)
        if entry is None:
            ident = item.get("id") if isinstance(item, Mapping) else None
            log.warning(
                "skipped a malformed PagerDuty log entry",
                extra={"incident_id": incident_id, "log_entry_id": str(ident)[:64] if ident else None},
            )
            continue
        entries.append(entry)
    return entries


def parse_log_entry(raw: Any) -> LogEntry | None:
    """A `LogEntry`, or None when `raw` lacks what every entry has (id, type, created_at)."""
    if not isinstance(raw, Mapping):
        return None
    entry_id, entry_type = _str(raw.get("id")), _str(raw.get("type"))
    created_at = _datetime(raw.get("created_at"))
    if not entry_id or not entry_type or created_at is None:
        return None
    agent = _mapping(raw.get("agent"))
    channel = _mapping(raw.get("channel"))
    notification = _mapping(channel.get("notification"))
    summary = _str(raw.get("summary")) or ""
    level = raw.get("escalation_level")
    if not isinstance(level, int) or isinstance(level, bool):
        found = _LEVEL.search(summary)
        level = int(found.group(1)) if found else None
    return LogEntry(
        id=entry_id,
        type=entry_type,
        created_at=created_at,
        summary=summary,
        agent_name=_reference_name(agent),
        agent_type=_str(agent.get("type")),
        channel_type=_str(channel.get("type")),
        user_name=_reference_name(raw.get("user")) or _reference_name(notification.get("user")),
        notification_method=_notification_method(notification, channel),
        assignees=tuple(name for a in _list(raw.get("assignees")) if (name := _reference_name(a))),
        escalation_level=level,
        note=_str(raw.get("note")) or (_note_text(channel) if entry_type == "annotate_log_entry" else None),
    )


def _note_text(channel: Mapping[str, Any]) -> str | None:
    # A note's text rides in its channel; which key is not documented, so both seen in the wild are read.
    return _str(channel.get("content")) or _str(channel.get("summary"))


def _notification_method(notification: Mapping[str, Any], channel: Mapping[str, Any]) -> str | None:
    kind = _str(notification.get("type")) or _str(channel.get("type"))
    if kind is None:
        return None
    kind = kind.removesuffix("_notification")  # "sms_notification" -> "sms", "push_notification" -> "push"
    return kind if kind in ("sms", "email", "phone", "push") else None


def _reference_name(value: Any) -> str | None:
    """The `summary` of a PagerDuty reference object (a user's or service's display name)."""
    return _str(_mapping(value).get("summary"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def log_entry_key(entry: LogEntry) -> str:
    return f"pagerduty-log:{entry.id}"


def log_entry_text(entry: LogEntry) -> str:
    """The entry in the incident report's voice: "PagerDuty notified Alice by sms", "Alice acknowledged",
    "PagerDuty escalated to level 2 (Bob)". Unknown types fall back to PagerDuty's own summary."""
    # Who acted: the user or service PagerDuty names, else PagerDuty itself. Escalations and assignments
    # made by a service (a timeout, an escalation rule) are PagerDuty's doing, not the service's.
    who = entry.agent_name or "PagerDuty"
    person = entry.agent_name if entry.agent_type == "user_reference" and entry.agent_name else "PagerDuty"
    assignees = ", ".join(entry.assignees)
    kind = entry.type
    if kind == "trigger_log_entry":
        via = f" via {entry.channel_type}" if entry.channel_type else ""
        return f"PagerDuty triggered{via}" + (f" ({entry.agent_name})" if entry.agent_name else "")
    if kind == "notify_log_entry":
        method = f" by {entry.notification_method}" if entry.notification_method else ""
        return f"PagerDuty notified {entry.user_name or 'someone'}{method}"
    if kind in ("acknowledge_log_entry", "acknowledgement_log_entry"):
        return f"{who} acknowledged"
    if kind == "unacknowledge_log_entry":
        if entry.channel_type == "timeout":
            return "PagerDuty: the acknowledgement timed out"
        return f"{who} unacknowledged"
    if kind == "escalate_log_entry":
        if entry.escalation_level is not None:
            target = f" to level {entry.escalation_level}" + (f" ({assignees})" if assignees else "")
        else:
            target = f" to {assignees}" if assignees else ""
        return f"{person} escalated{target}"
    if kind == "assign_log_entry":
        return f"{person} assigned the incident" + (f" to {assignees}" if assignees else "")
    if kind == "delegate_log_entry":
        return f"{person} reassigned the incident" + (f" to {assignees}" if assignees else "")
    if kind == "resolve_log_entry":
        return f"{who} resolved"
    if kind == "annotate_log_entry":
        note = " ".join((entry.note or "").split())
        shown = f": {note[:120]}{'…' if len(note) > 120 else ''}" if note else ""
        return f"{who} added a note{shown}"
    if kind == "snooze_log_entry":
        return f"{who} snoozed the incident"
    if kind == "exhaust_escalation_path_log_entry":
        return "PagerDuty reached the end of the escalation policy"
    if kind == "repeat_escalation_path_log_entry":
        return "PagerDuty repeated the escalation policy"
    if entry.summary:
        return f"PagerDuty: {' '.join(entry.summary.split())}"
    return f"PagerDuty: {kind.removesuffix('_log_entry').replace('_', ' ')}"


def log_entry_timeline(entries: Iterable[LogEntry]) -> list[TimelineEntry]:
    """The entries as timeline lines, keyed `pagerduty-log:<id>` so gathering them twice adds nothing."""
    return [
        TimelineEntry(at=e.created_at, source=TIMELINE_SOURCE, text=log_entry_text(e), key=log_entry_key(e))
        for e in entries
    ]


def build_client(settings: Settings, **overrides: Any) -> PagerDutyClient | None:
    """The client `CORONER_PAGERDUTY_API_TOKEN` and `CORONER_PAGERDUTY_API_URL` describe; None when no
    token is set (write-back, buttons and enrichment are then off). `overrides` reach `PagerDutyClient`."""
    if settings.pagerduty_api_token is None or not settings.pagerduty_api_token.get_secret_value():
        return None
    return PagerDutyClient(
        base_url=settings.pagerduty_api_url, token=settings.pagerduty_api_token.get_secret_value(), **overrides
    )


# -- enrichment ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEnrichment:
    """What the draft gets from PagerDuty's log: `entries`, or `missing` saying why there are none."""

    entries: tuple[TimelineEntry, ...]
    missing: str | None = None


def enrich_timeline(
    client: PagerDutyClient | None, incident_id: str, *, since: datetime | None = None
) -> LogEnrichment:
    """Best effort: the incident's log entries as timeline lines, or the reason they are absent, for the
    draft to state. Never raises for PagerDuty's failures."""
    if client is None:
        return LogEnrichment((), missing="PagerDuty log not read: CORONER_PAGERDUTY_API_TOKEN is not set")
    try:
        entries = client.log_entries(incident_id, since=since)
    except PagerDutyError as exc:
        log.warning("PagerDuty log entries unavailable", extra={"incident_id": incident_id, "error": str(exc)})
        return LogEnrichment((), missing=f"PagerDuty log not read: {exc}")
    return LogEnrichment(tuple(log_entry_timeline(entries)))
