"""`/diagnose SERVICE`: acked at once, diagnosed on a bounded pool, answered in one message that fills in.

Three kinds of thread, so that nothing slow can delay an ack (Slack gives 3 s, then shows an error):
- bolt's listener executor runs `acknowledge`, which acks and submits the run to the diagnosis pool:
  microseconds, whatever the pool is doing;
- the diagnosis pool (`concurrency` threads, `CORONER_DIAGNOSE_CONCURRENCY`) runs the diagnoses and
  every Web API call they make; commands beyond its size wait in its queue, none is dropped;
- `LiveMessage`'s timer thread sends the progress edits, so a diagnosis never waits on Slack.

The answer: "Diagnosing `svc`…" is posted in the command's channel as the run starts, edited as each
check finishes (nodes ✓ · disk ✓ · …, at most once a second), then replaced by the full diagnosis. When
the bot cannot post there (`not_in_channel`, a DM), the answer goes to `response_url` instead.
Every run is handed to `record_run` (who, where, when, what came of it), and a diagnosis is also posted
in the thread of the service's open incident when `incident_thread_for` names one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from slack_bolt import Ack, App, Respond
from slack_sdk.errors import SlackClientError

from bot.clock import SystemClock
from bot.ports import Clock, CoronerError
from bot.render.slack import diagnosis_message
from bot.slack.blocks import FALLBACK_TEXT_MAX, SlackMessage, context, section
from bot.slack.listeners import NAME, error_reply
from bot.slack.live_message import PROGRESS_INTERVAL_SECONDS, LiveMessage
from bot.slack.mrkdwn import code, escape, one_line, truncate
from bot.slack.poster import ChatPostError, SlackChatPoster

if TYPE_CHECKING:
    from bot.engine.diagnose import Diagnosis

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True)
class ServiceRef:
    """What the person typed: `name`, or `namespace/name` to pick the namespace."""

    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def parse_service(text: str | None) -> ServiceRef | None:
    """One DNS-1123 name, optionally `namespace/name`; None for anything else (it never reaches the cluster)."""
    words = (text or "").split()
    if len(words) != 1:
        return None
    namespace, slash, name = words[0].rpartition("/")
    if not NAME.match(name) or (slash and not NAME.match(namespace)):
        return None
    return ServiceRef(namespace or None, name)


def usage(*, command: str, text: str | None) -> str:
    given = " ".join((text or "").split())
    if not given:
        return f"Usage: {code(command + ' SERVICE')}, for example {code(command + ' user-profile-service')}."
    return (
        f"{code(truncate(given, 100))} is not a service name: give one Kubernetes name such as "
        f"{code('user-profile-service')} or {code('prod/user-profile-service')}."
    )


# --- the collaborators the composition root wires -------------------------------------------------------

# `on_check_done(check, status)`: status is the engine's ok | failed | forbidden | timeout.
OnCheckDone = Callable[[str, str], None]


class SlashDiagnose(Protocol):
    """Diagnose `service`, telling `on_check_done` as each check finishes; raises `CoronerError` for an
    unknown service, a forbidden API, an unreachable cluster."""

    def __call__(self, service: ServiceRef, on_check_done: OnCheckDone) -> Diagnosis: ...


class IncidentThread(NamedTuple):
    """Where an open incident is discussed: its channel and its root message's `ts`."""

    channel: str
    thread_ts: str


Outcome = Literal["ok", "failed", "error"]


@dataclass(frozen=True)
class SlashRun:
    """One `/diagnose`, for the audit. `started_at` is when Coroner took the command (its time in the
    queue included), `finished_at` when the answer was out. `outcome`: ok (a diagnosis, `summary` holds its
    counts), failed (a `CoronerError` the user was shown, `error` holds it), error (a bug, `error` names
    only the exception type; the traceback is in the logs)."""

    user_id: str
    user_name: str
    channel_id: str
    service: str
    namespace: str | None
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    summary: str | None = None
    error: str | None = None


RecordRun = Callable[[SlashRun], None]
IncidentThreadFor = Callable[[ServiceRef], IncidentThread | None]


@dataclass(frozen=True)
class SlashCommand:
    """The fields of Slack's slash-command payload that a run uses (REFERENCE.md §2.1)."""

    user_id: str
    user_name: str
    channel_id: str
    service: ServiceRef

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], service: ServiceRef) -> SlashCommand:
        return cls(user_id=str(payload["user_id"]), user_name=str(payload["user_name"]),
                   channel_id=str(payload["channel_id"]), service=service)


# --- the progress message ---------------------------------------------------------------------------------

def _mark(status: str) -> str:
    return "✓" if status == "ok" else f"✗ {one_line(status)}"


def progress_message(service: ServiceRef, done: list[tuple[str, str]]) -> SlackMessage:
    """`Diagnosing `svc`…` and, under it, the checks finished so far: `nodes ✓ · disk ✓ · hpa ✗ timeout · …`."""
    heading = section(f"Diagnosing {code(str(service))}…")
    if not done:
        return SlackMessage(text=f"Diagnosing {escape(str(service))}…", blocks=[heading])
    checklist = context(" · ".join([*(f"{code(check)} {_mark(status)}" for check, status in done), "…"]))
    text = f"Diagnosing {escape(str(service))}… " + ", ".join(f"{one_line(c)} {_mark(s)}" for c, s in done)
    return SlackMessage(text=truncate(text, FALLBACK_TEXT_MAX), blocks=[heading, checklist])


class _Progress:
    """The `on_check_done` of one run: it keeps the checklist and shows it on the live message."""

    def __init__(self, service: ServiceRef, live: LiveMessage | None) -> None:
        self._service, self._live = service, live
        self._done: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, check: str, status: str) -> None:
        if self._live is None:
            return
        with self._lock:
            self._done.append((check, status))
            message = progress_message(self._service, list(self._done))
        self._live.show(message)


# --- the command ------------------------------------------------------------------------------------------

class DiagnoseCommand:
    """`/diagnose` with its collaborators and its diagnosis pool; `register_diagnose` puts it on an app."""

    def __init__(
        self,
        *,
        diagnose: SlashDiagnose,
        record_run: RecordRun,
        incident_thread_for: IncidentThreadFor,
        poster: SlackChatPoster,
        offer_rollback: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress_interval: float = PROGRESS_INTERVAL_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"diagnose concurrency must be at least 1, not {concurrency}")
        self._diagnose = diagnose
        self._record_run = record_run
        self._incident_thread_for = incident_thread_for
        self._poster = poster
        self._offer_rollback = offer_rollback
        self._concurrency = concurrency
        self._progress_interval = progress_interval
        self._clock = clock or SystemClock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="coroner-diagnose")
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    def acknowledge(self, ack: Ack, payload: Mapping[str, Any], respond: Respond) -> None:
        """The listener: ack within Slack's 3 s, hand the run to the diagnosis pool, return. Both take
        microseconds whatever the pool is doing: the pool queues what it cannot start yet."""
        service = parse_service(payload.get("text"))
        if service is None:
            ack(text=usage(command=str(payload["command"]), text=payload.get("text")), response_type="ephemeral")
            return
        command = SlashCommand.from_payload(payload, service)
        with self._in_flight_lock:
            ahead = self._in_flight
            self._in_flight += 1
        queued = f" (queued behind {ahead} other diagnoses)" if ahead >= self._concurrency else ""
        ack(text=f"Diagnosing {code(str(service))}…{queued}", response_type="ephemeral")
        try:
            future = self._pool.submit(self.run, command, respond, self._clock.now())
        except RuntimeError:  # the pool is shut down: the process is stopping
            self._run_ended(None)
            raise
        future.add_done_callback(self._run_ended)

    def _run_ended(self, future: Future[SlashRun] | None) -> None:
        with self._in_flight_lock:
            self._in_flight -= 1
        if future is not None and not future.cancelled() and (exc := future.exception()) is not None:
            # `run` answers and records every failure of the diagnosis; this is a failure of that itself.
            log.error("/diagnose run failed outside the diagnosis", exc_info=exc)

    def run(self, command: SlashCommand, respond: Respond, started_at: datetime) -> SlashRun:
        """On the diagnosis pool: post, diagnose with progress, answer, post in the incident, record."""
        outcome: Outcome = "error"
        summary: str | None = None
        error: str | None = "the run stopped before its answer (see the logs)"
        try:
            outcome, summary, error = self._diagnose_and_answer(command, respond)
        finally:
            run = SlashRun(
                user_id=command.user_id, user_name=command.user_name, channel_id=command.channel_id,
                service=command.service.name, namespace=command.service.namespace, started_at=started_at,
                finished_at=self._clock.now(), outcome=outcome, summary=summary, error=error,
            )
            try:
                self._record_run(run)
            except CoronerError as exc:
                # The answer is out; the audit row is not. The log keeps the run, so it is not lost.
                log.error("could not record the /diagnose run: %s", exc, extra={"run": run})
        return run

    def _diagnose_and_answer(self, command: SlashCommand, respond: Respond) -> tuple[Outcome, str | None, str | None]:
        service = command.service
        doing = f"diagnosing {code(str(service))}"
        live = self._post_live(command)
        try:
            diagnosis = self._diagnose(service, _Progress(service, live))
            answer = diagnosis_message(diagnosis, offer_rollback=self._offer_rollback)
        except CoronerError as exc:
            self._answer(live, respond, error_reply(doing, exc), fallback="ephemeral")
            return "failed", None, one_line(str(exc))
        except Exception as exc:  # the pool's Slack error handler: logged, answered, recorded
            log.error("/diagnose %s failed", service, exc_info=exc, extra={"service": str(service)})
            self._answer(live, respond, error_reply(doing, exc), fallback="ephemeral")
            return "error", None, f"internal error ({type(exc).__name__})"
        self._answer(live, respond, answer, fallback="in_channel")
        self._post_in_incident(service, answer)
        return "ok", answer.text, None

    def _post_live(self, command: SlashCommand) -> LiveMessage | None:
        try:
            return LiveMessage.post(self._poster, channel=command.channel_id,
                                    message=progress_message(command.service, []), interval=self._progress_interval)
        except ChatPostError as exc:
            # Typically `not_in_channel`: the bot was not invited. response_url works without membership.
            log.info("answering /diagnose through response_url: %s", exc, extra={"channel": command.channel_id})
            return None

    def _answer(self, live: LiveMessage | None, respond: Respond, message: SlackMessage,
                *, fallback: Literal["in_channel", "ephemeral"]) -> None:
        """Replace the live message (the channel saw "Diagnosing…", it sees the outcome), else use
        response_url: a diagnosis for the channel, an error for the person who asked."""
        if live is not None:
            try:
                live.finish(message)
                return
            except ChatPostError as exc:
                log.warning("answering /diagnose through response_url: %s", exc)
        try:
            respond(text=message.text, blocks=message.blocks, response_type=fallback, replace_original=False)
        except (SlackClientError, OSError) as exc:
            log.error("the /diagnose answer was lost: response_url failed: %s", exc)

    def _post_in_incident(self, service: ServiceRef, answer: SlackMessage) -> None:
        try:
            thread = self._incident_thread_for(service)
            if thread is not None:
                self._poster.post(channel=thread.channel, thread_ts=thread.thread_ts,
                                  text=answer.text, blocks=answer.blocks)
        except CoronerError as exc:
            log.warning("the /diagnose answer is not in the incident's thread: %s", exc,
                        extra={"service": str(service)})

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


def register_diagnose(app: App, handler: DiagnoseCommand, *, command: str = "/diagnose") -> None:
    # A plain listener, not a bolt lazy one: submitting to the pool is as quick as an ack, and a lazy
    # listener would cost a deep copy of the request and a second task on bolt's executor per command.
    # bolt fills the arguments by name; `body` is the slash command's payload.
    def acknowledge(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        handler.acknowledge(ack, body, respond)

    app.command(command)(acknowledge)
