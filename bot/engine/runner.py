"""Runs a playbook's checks concurrently, each under its own timeout and all under the run's.

Checks are synchronous (the kubernetes client is), so each runs in a daemon thread. Each gets its
deadline in its context (`ctx.deadline`), and what it waits on stops there: the image reader's socket
timeouts are bounded by it and a watchdog cuts a stalled read. The runner reports a late check as timed
out, then gives its thread `STOP_GRACE_SECONDS` to return, so a diagnosis leaves nothing running behind
it; a thread still alive after that is logged as the bug it is. A thread that stops on its deadline says
what it was doing (`DeadlineExceeded.doing`), and the timeout finding names it: the registry or the API
call that did not answer. A check that raises becomes a finding
that says what is missing; the other checks still report.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from bot.deadline import Deadline, DeadlineExceeded
from bot.domain import Finding, Severity
from bot.checks.context import CheckContext, NotAssessed
from bot.engine.playbook import Playbook, PlaybookStep
from bot.engine.registry import CHECKS
from bot.logs import carry_log_context, log_context
from bot.metrics import CHECK_DURATION
from bot.ports import ClusterForbidden, CoronerError, ImageNotFound

log = logging.getLogger(__name__)

# Told `(check, status)` as the run learns each check's outcome, in playbook order (a check that
# finishes early is reported once those before it are in). Called on the run's thread: keep it short.
OnCheckDone = Callable[[str, str], None]


@dataclass(frozen=True)
class CheckRun:
    """How one check went: `status` is ok | failed | forbidden | timeout | not-assessed."""

    check: str
    status: str
    duration_ms: int
    findings: tuple[Finding, ...]
    error: str | None = None


# How long past its deadline a check's thread may take to notice it and return.
STOP_GRACE_SECONDS = 1.0
DEFAULT_CHECK_SLOTS = 16


class CheckSlots:
    """How many checks may run at once in this process, whatever runs them: N job workers and the
    /diagnose pool each run a playbook of several checks, and without a common bound N × checks threads
    (each with its sockets and buffers) could exhaust the machine during a storm. A check waits for a
    slot within its own deadline; one that gets none is reported as timed out."""

    def __init__(self, size: int = DEFAULT_CHECK_SLOTS) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def acquire(self, timeout: float) -> bool:
        if not self._free.acquire(timeout=max(0.0, timeout)):
            return False
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        return True

    def release(self) -> None:
        with self._lock:
            self.running -= 1
        self._free.release()


# The process's bound; `configure_check_slots` sets its size from CORONER_CHECK_CONCURRENCY at start-up.
CHECK_SLOTS = CheckSlots()


def configure_check_slots(size: int) -> CheckSlots:
    global CHECK_SLOTS
    if size != CHECK_SLOTS.size:
        CHECK_SLOTS = CheckSlots(size)
    return CHECK_SLOTS


def _start(
    ctx: CheckContext, step: PlaybookStep, deadline: float, finished: dict[int, float]
) -> tuple[Future[list[Finding]], threading.Thread]:
    future: Future[list[Finding]] = Future()
    spec = CHECKS[step.check]
    # Shares the memo and the gaps; its cluster reads, and its waits for another check's, stop at its deadline.
    bound = Deadline(deadline)
    check_ctx = dataclasses.replace(ctx, deadline=bound, cluster=ctx.cluster.within(bound))

    slots = CHECK_SLOTS

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        if not slots.acquire(timeout=deadline - time.monotonic()):
            finished[id(future)] = time.monotonic()
            future.set_exception(DeadlineExceeded(f"waiting for a free check slot (CORONER_CHECK_CONCURRENCY={slots.size})"))
            return
        try:
            with log_context(check=step.check):
                result = list(spec.run(check_ctx, step.params))
            finished[id(future)] = time.monotonic()
            future.set_result(result)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting runner, which turns it into a finding
            finished[id(future)] = time.monotonic()
            future.set_exception(exc)
        finally:
            slots.release()

    # The check's thread logs with the caller's context (a job's job_id and incident_id) plus its name.
    thread = threading.Thread(target=carry_log_context(work), name=f"check-{step.check}", daemon=True)
    thread.start()
    return future, thread


def _deadline(started: float, step: PlaybookStep, playbook: Playbook) -> float:
    return min(started + step.timeout_seconds, started + playbook.timeout_seconds)


def run_playbook(ctx: CheckContext, playbook: Playbook, *, on_check_done: OnCheckDone | None = None) -> list[CheckRun]:
    started = time.monotonic()
    run_deadline = started + playbook.timeout_seconds
    finished: dict[int, float] = {}
    started_checks = [(step, *_start(ctx, step, _deadline(started, step, playbook), finished)) for step in playbook.steps]
    runs: list[CheckRun] = []
    for step, future, _ in started_checks:
        deadline = _deadline(started, step, playbook)
        timeout = step.timeout_seconds if deadline < run_deadline else playbook.timeout_seconds
        try:
            findings = future.result(timeout=max(0.0, deadline - time.monotonic()))
            status, error = "ok", None
            findings = [f if f.check else dataclasses.replace(f, check=step.check) for f in findings]
        except (FutureTimeout, DeadlineExceeded) as exc:
            doing = _doing(exc, future, deadline)
            status, error = "timeout", f"no answer within {timeout:g}s" + (f" while {doing}" if doing else "")
            findings = [_timeout_finding(step.check, timeout, whole_run=deadline >= run_deadline, doing=doing)]
        except ClusterForbidden as exc:
            status, error = "forbidden", str(exc)
            findings = [forbidden_finding(step.check, exc)]
        except NotAssessed as exc:
            # Not a gap in what the bot may see: what the check reads does not exist for this kind.
            status, error = "not-assessed", str(exc)
            findings = [_not_assessed_finding(step.check, exc)]
        except ImageNotFound as exc:
            # The registry answered that the image does not exist: an answer about the image, not a place
            # the diagnosis could not see (nothing to grant or to wait for).
            status, error = "failed", str(exc)
            findings = [_failed_finding(step.check, str(exc), not_found=True)]
        except CoronerError as exc:
            status, error = "failed", str(exc)
            findings = [_failed_finding(step.check, str(exc))]
        except Exception as exc:  # the one place a broken check must not break the run
            log.exception("check %s raised", step.check, extra={"check": step.check})
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            findings = [_failed_finding(step.check, error)]
        ended = finished.get(id(future), time.monotonic())
        CHECK_DURATION.labels(check=step.check).observe(ended - started)
        runs.append(CheckRun(step.check, status, int((ended - started) * 1000), tuple(findings), error))
        if on_check_done is not None:
            on_check_done(step.check, status)
    for step, _, thread in started_checks:
        thread.join(timeout=max(0.0, _deadline(started, step, playbook) + STOP_GRACE_SECONDS - time.monotonic()))
        if thread.is_alive():
            log.warning("check %s is still running after its deadline", step.check, extra={"check": step.check})
    return _with_gaps(ctx, runs)


def _doing(exc: BaseException, future: Future[list[Finding]], deadline: float) -> str | None:
    """What a late check was doing when its deadline passed. Its thread says so when it stops there, which
    it does within the grace the runner gives it anyway (the final join); one that does not is unknown."""
    if isinstance(exc, FutureTimeout):
        try:
            future.result(timeout=max(0.0, deadline + STOP_GRACE_SECONDS - time.monotonic()))
        except DeadlineExceeded as stopped:
            exc = stopped
        except BaseException:  # noqa: BLE001 - anything else after the deadline says nothing of the wait
            return None
    return exc.doing if isinstance(exc, DeadlineExceeded) else None


def _with_gaps(ctx: CheckContext, runs: list[CheckRun]) -> list[CheckRun]:
    """Permissions a check went on without (`ctx.forbidden`) become its check-forbidden findings."""
    with ctx._gaps_lock:
        gaps = list(ctx.gaps)
    out = []
    for run in runs:
        extra = tuple(forbidden_finding(run.check, exc) for check, exc in gaps if check == run.check)
        out.append(dataclasses.replace(run, findings=run.findings + extra) if extra else run)
    return out


def merge_forbidden(findings: list[Finding]) -> list[Finding]:
    """One check-forbidden finding per missing permission, naming every check that lacked it."""
    merged: dict[tuple[str, str], list[Finding]] = {}
    rest = []
    for f in findings:
        if f.rule == "check-forbidden" and "verb" in f.evidence:
            merged.setdefault((str(f.evidence["verb"]), str(f.evidence["resource"])), []).append(f)
        else:
            rest.append(f)
    for (verb, resource), group in merged.items():
        checks = sorted({str(f.evidence["check"]) for f in group})
        first = group[0]
        rest.append(
            dataclasses.replace(
                first,
                title=f"{', '.join(checks)}: forbidden: needs {verb} on {resource}",
                evidence={**first.evidence, "check": checks[0] if len(checks) == 1 else checks},
                check=checks[0],
            )
        )
    return rest


def forbidden_finding(check: str, exc: ClusterForbidden) -> Finding:
    """Also used by checks that degrade gracefully (disk without nodes/proxy)."""
    return Finding(
        rule="check-forbidden",
        severity=Severity.LOW,
        title=f"{check}: forbidden: needs {exc.verb} on {exc.resource}",
        evidence={"check": check, "verb": exc.verb, "resource": exc.resource, "error": str(exc)},
        remediation=f"Grant the bot's ServiceAccount `{exc.verb}` on `{exc.resource}` (see deploy/kubernetes/).",
        check=check,
    )


def _failed_finding(check: str, error: str, *, not_found: bool = False) -> Finding:
    """`not_found`: what the check reads does not exist (`ImageNotFound`), as opposed to could not be read."""
    return Finding(
        rule="check-failed",
        severity=Severity.LOW,
        title=f"{check}: nothing to examine: {error}" if not_found else f"{check}: could not run: {error}",
        evidence={"check": check, "error": error, **({"not_found": True} if not_found else {})},
        check=check,
    )


def _not_assessed_finding(check: str, exc: NotAssessed) -> Finding:
    return Finding(
        rule="check-not-assessed",
        severity=Severity.INFO,
        title=f"{check}: {exc}",
        evidence={"check": check, "kind": exc.kind, "why": exc.why},
        check=check,
    )


def _timeout_finding(check: str, timeout: float, *, whole_run: bool, doing: str | None = None) -> Finding:
    """`doing`: what the check was waiting on when it was stopped ("reading … from registry …")."""
    what = "the run's" if whole_run else "its"
    where = f" while {doing}" if doing else ""
    return Finding(
        rule="check-timeout",
        severity=Severity.LOW,
        title=f"{check}: no answer within {timeout:g}s ({what} timeout){where}; its findings are missing",
        evidence={"check": check, "timeout_seconds": timeout, "whole_run": whole_run, **({"doing": doing} if doing else {})},
        check=check,
    )
