"""`POST /admission/validate`: the gate at the cluster's door, as a validating admission webhook.

For a Deployment, StatefulSet or DaemonSet whose pod template gets a new image, the gate's rules
(`bot.gate.decide`) judge the new image against the image it replaces, with the cluster's live node
figures, and the namespace's mode says what a failure does: deny, warn, or nothing (off). A change that
sets no new image is answered at once, with no image read and no record.

Within CORONER_GATE_DEADLINE_SECONDS: the images' reports come from the autopsy cache (the database);
an image not read yet is allowed with a warning when the deadline comes (fail-open; the webhook's
failurePolicy is Ignore too), and its autopsy goes on so that the next review finds it. Every cluster
read (the namespace's labels, the nodes, the HPA) goes through a reader bounded by the same deadline
(`ClusterReader.within`): an API server that stalls is allowed with a warning naming the call it did not
answer, as a slow registry is.

Every decision is recorded in the audit log; a denial is also posted to the service's Slack channel.
On a dry run (`kubectl apply --dry-run=server`) the answer is the same but nothing is recorded or
posted (the webhook is declared `sideEffects: NoneOnDryRun`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.admission.autopsies import AutopsyCache, StillReading
from bot.admission.messages import (
    denial_paragraph,
    fail_open_warning,
    no_answer,
    override_warning,
    warn_lines,
)
from bot.admission.mode import ModeChoice, NamespaceModes
from bot.admission.platforms import NodePlatforms
from bot.admission.review import (
    ImageChange,
    MalformedReview,
    ReviewRequest,
    parse_review,
    review_response,
)
from bot.deadline import Deadline, DeadlineExceeded
from bot.gate import ClusterPressure, GateDecision, GatePolicy, decide, read_pressure
from bot.http_body import read_capped
from bot.images.autopsy import ImageReport
from bot.jobs.post_gate_denial import PostGateDenial
from bot.logs import carry_log_context
from bot.ports import ClusterReader, ClusterReadError, CoronerError, ImageNotFound
from bot.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

PATH = "/admission/validate"
# etcd's object limit (1.5 MiB); a workload's review is kilobytes. A bigger one is answered 413, which the
# webhook's failurePolicy Ignore turns into an allowed change, as any webhook failure.
MAX_REVIEW_BYTES = 1536 * 1024
# The answer must be on its way before the deadline, not start then: the HTTP round trip takes the rest.
ANSWER_MARGIN_SECONDS = 0.1
# The image and cluster reads stop this much earlier, so that the judge, not the watchdog, says which image
# was missing or which cluster call did not answer.
JUDGE_MARGIN_SECONDS = 0.25
# A cluster read cut at the deadline ends a moment after it (the watchdog's cut, the error's way up): the
# judge waits that long for its words, well inside the margin above.
CUT_GRACE_SECONDS = 0.1

ACTIONS = ("admission.allowed", "admission.warned", "admission.denied", "admission.overridden")


@dataclass(frozen=True)
class Missing:
    """An image the registry says does not exist (`ImageNotFound`), and its words."""

    why: str


@dataclass(frozen=True)
class PressureRead:
    """The cluster's figures for one change, or why not: `notes` say what was left out; `undecided` says
    the API server did not answer in time (the pull-pressure rule could not be applied: fail-open)."""

    pressure: ClusterPressure | None
    notes: tuple[str, ...] = ()
    undecided: str | None = None


@dataclass(frozen=True)
class ImageVerdict:
    """The gate's decision for one changed container."""

    change: ImageChange
    decision: GateDecision


@dataclass(frozen=True)
class Outcome:
    """What the webhook answers, and what it records (`action` None: nothing to record)."""

    allowed: bool
    action: str | None = None
    message: str | None = None
    warnings: tuple[str, ...] = ()
    mode: ModeChoice | None = None
    verdicts: tuple[ImageVerdict, ...] = ()
    undecided: tuple[str, ...] = ()
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class AdmissionGate:
    def __init__(self, *, store: Store, autopsies: AutopsyCache, modes: NamespaceModes,
                 cluster: Callable[[], ClusterReader | None], policy: GatePolicy, deadline_seconds: float,
                 platforms: NodePlatforms | None = None, lookups: int = 8) -> None:
        self.store = store
        self.autopsies = autopsies
        self.modes = modes
        self.cluster = cluster
        self.platforms = platforms
        self.policy = policy
        self.deadline_seconds = deadline_seconds
        # Own pools, not the event loop's default one: a review that runs out of time is answered while its
        # thread finishes on its own (anyio's threads cannot be abandoned, so awaiting them would not time out).
        self._judges = concurrent.futures.ThreadPoolExecutor(max_workers=lookups, thread_name_prefix="gate-judge")
        self._lookups = concurrent.futures.ThreadPoolExecutor(max_workers=lookups, thread_name_prefix="gate-lookup")

    async def review(self, review: ReviewRequest) -> Outcome:
        if not review.gated or not review.changes:
            return Outcome(allowed=True)  # nothing the gate judges: no read, no record
        started = time.monotonic()
        answer_by = Deadline(started + self.deadline_seconds - ANSWER_MARGIN_SECONDS)
        deadline = Deadline(answer_by.at - JUDGE_MARGIN_SECONDS)
        try:
            judging = asyncio.get_running_loop().run_in_executor(self._judges, carry_log_context(self.judge),
                                                                 review, deadline)
            outcome = await asyncio.wait_for(judging, timeout=max(answer_by.remaining(), 0.0))
        except TimeoutError:
            # A backstop: image and cluster reads stop at the judge's deadline themselves.
            outcome = self._fail_open(review, None, [], [f"no decision within {self.deadline_seconds:g} s"])
        outcome = replace(outcome, seconds=time.monotonic() - started)
        if outcome.action is not None and not review.dry_run:
            # Written before the answer when the database allows it (a denial's Slack post is then queued
            # before kubectl prints it); a slow database does not push the answer past the deadline.
            recording = asyncio.get_running_loop().run_in_executor(self._judges, carry_log_context(self.record),
                                                                   review, outcome)
            try:
                await asyncio.wait_for(asyncio.shield(recording), timeout=max(answer_by.remaining(), 0.05))
            except TimeoutError:
                log.warning("admission decision on %s answered before its record was written", review.workload,
                            extra={"uid": review.uid})
        return outcome

    def judge(self, review: ReviewRequest, deadline: Deadline) -> Outcome:
        """The decision, blocking; reads no image unless the namespace's mode is deny or warn. Every read
        stops at `deadline`; a cluster read that does not end by then makes the decision fail open."""
        try:
            choice = self.modes.mode(review.workload.namespace, deadline=deadline)
        except DeadlineExceeded as exc:
            return self._fail_open(review, None, [], [no_answer(exc)])
        if choice.mode == "off":
            return Outcome(allowed=True, mode=choice)
        if review.overridden:
            return Outcome(allowed=True, action="admission.overridden", mode=choice,
                           warnings=(override_warning(review),))
        # The cluster is read while the images are: neither waits for the other.
        cluster = self.cluster()
        pressures = {change.image: self._lookups.submit(carry_log_context(self._pressure), cluster.within(deadline),
                                                        review, change)
                     for change in review.changes} if cluster is not None else {}
        try:
            platform = (self.platforms.platform(review.template, kind=review.workload.kind, deadline=deadline)
                        if self.platforms else None)
        except DeadlineExceeded as exc:
            # Which image of an index the nodes pull is unknown: judging another platform's would mislead.
            return self._fail_open(review, choice, [], [no_answer(exc)])
        reports = self._reports(review, deadline, platform)
        verdicts: list[ImageVerdict] = []
        undecided: list[str] = []
        for change in review.changes:
            candidate = reports.get(change.image)
            reference = reports.get(change.previous) if change.previous else None
            notes = []
            if isinstance(reference, Missing):
                # The image it replaces is gone from the registry: judged as a first release.
                notes.append(f"the image replaced does not exist, so {change.image} is judged alone: {reference.why}")
                reference = None
            problem = next((r.why if isinstance(r, Missing) else r for r in (candidate, reference)
                            if isinstance(r, (str, Missing))), None)
            if problem is not None:
                undecided.append(problem)
                continue
            assert isinstance(candidate, ImageReport) and isinstance(reference, ImageReport | None)
            read = _pressure_by(pressures.get(change.image), deadline)
            notes += read.notes
            if read.undecided is not None:
                undecided.append(f"{change.image}: {read.undecided}")
            if platform is not None:
                notes.append(f"a multi-arch image is judged as {platform}, the platform of the nodes its pods go to")
            decision = decide(candidate, reference, pressure=read.pressure, policy=self.policy)
            verdicts.append(ImageVerdict(change, replace(decision, notes=(*decision.notes, *notes))))
            if decision.verdict == "undecided":  # a rule it could not apply: fail-open, unless another fails
                undecided += [f"{change.image}: {why}" for why in decision.undecided]
        failed = [v for v in verdicts if v.decision.verdict == "fail"]
        if not failed:
            if undecided:
                return self._fail_open(review, choice, verdicts, undecided)
            return Outcome(allowed=True, action="admission.allowed", mode=choice, verdicts=tuple(verdicts))
        if choice.mode == "warn":
            return Outcome(allowed=True, action="admission.warned", mode=choice, verdicts=tuple(verdicts),
                           undecided=tuple(undecided), warnings=tuple(warn_lines(review, failed)))
        return Outcome(allowed=False, action="admission.denied", mode=choice, verdicts=tuple(verdicts),
                       undecided=tuple(undecided), message=denial_paragraph(review, failed, undecided))

    def _reports(self, review: ReviewRequest, deadline: Deadline,
                 platform: str | None) -> dict[str, ImageReport | Missing | str]:
        """Every image the review names, read at once (a reference's report is reused from the cache);
        `Missing` when the registry says it does not exist, a string says why another one is not there."""
        refs = list(dict.fromkeys(ref for c in review.changes for ref in (c.image, c.previous) if ref))
        futures = {ref: self._lookups.submit(self.autopsies.report, ref, deadline, platform) for ref in refs}
        reports: dict[str, ImageReport | Missing | str] = {}
        for ref, future in futures.items():
            try:
                reports[ref] = future.result()
            except StillReading as exc:
                reports[ref] = str(exc)
            except ImageNotFound as exc:
                reports[ref] = Missing(f"{ref}: {exc}")
            except CoronerError as exc:  # ImageReadError, DeadlineExceeded
                reports[ref] = f"{ref}: {exc}"
        return reports

    def _pressure(self, cluster: ClusterReader, review: ReviewRequest, change: ImageChange) -> PressureRead:
        """The nodes' figures now, for the object as it will be (its new template and replicas, the HPA
        that scales it); None, with a note, when the cluster cannot say, and undecided when it did not
        answer before the reader's deadline. The image's size is left to the gate (`image_bytes=0`: the
        candidate report's), so this runs before the report is there."""
        workload = review.workload
        try:
            return PressureRead(read_pressure(cluster, workload.namespace, workload.name, image_bytes=0,
                                              kind=workload.kind, image=change.image, replicas=review.replicas,
                                              template=review.template))
        except DeadlineExceeded as exc:
            log.info("pull pressure of %s not assessed: %s", workload, exc)
            return PressureRead(None, undecided=f"pull pressure not assessed: {no_answer(exc)}")
        except ClusterReadError as exc:
            log.info("pull pressure of %s not assessed: %s", workload, exc)
            return PressureRead(None, (f"pull pressure not assessed: {exc}",))

    def _fail_open(self, review: ReviewRequest, choice: ModeChoice | None, verdicts: list[ImageVerdict],
                   undecided: list[str]) -> Outcome:
        return Outcome(allowed=True, action="admission.allowed", mode=choice, verdicts=tuple(verdicts),
                       undecided=tuple(undecided), warnings=(fail_open_warning(undecided),),
                       details={"fail_open": True})

    def record(self, review: ReviewRequest, outcome: Outcome) -> None:
        """The audit record, and for a denial the Slack post's job, in one transaction."""
        assert outcome.action is not None
        details: dict[str, Any] = {
            "uid": review.uid, "operation": review.operation,
            "images": [c.describe() for c in review.changes],
            "mode": outcome.mode.mode if outcome.mode else None,
            "mode_source": outcome.mode.source if outcome.mode else None,
            "decisions": [{"container": v.change.container, **v.decision.to_json()} for v in outcome.verdicts],
            "undecided": list(outcome.undecided),
            "seconds": round(outcome.seconds, 3),
            **outcome.details,
        }
        if outcome.mode is not None and outcome.mode.note:
            details["mode_note"] = outcome.mode.note
        if outcome.message:
            details["message"] = outcome.message
        try:
            with self.store.unit_of_work() as uow:
                uow.audit.record(actor=review.user, action=outcome.action, target=str(review.workload),
                                 details=details)
                if outcome.action == "admission.denied":
                    command = PostGateDenial(review_uid=review.uid, kind=review.workload.kind,
                                             namespace=review.workload.namespace, name=review.workload.name,
                                             user=review.user, reason=outcome.message or "")
                    uow.jobs.enqueue(kind="post_gate_denial", dedupe_key=command.dedupe_key(),
                                     payload=command.to_payload())
                uow.commit()
        except StoreUnavailable as exc:
            # The answer stands (the API server is waiting); the record is what is lost, and said so.
            log.error("admission decision on %s not recorded: %s", review.workload, exc,
                      extra={"uid": review.uid, "action": outcome.action})

    def close(self) -> None:
        self._judges.shutdown(wait=False, cancel_futures=True)
        self._lookups.shutdown(wait=False, cancel_futures=True)
        self.autopsies.close()


def _pressure_by(future: concurrent.futures.Future[PressureRead] | None, deadline: Deadline) -> PressureRead:
    if future is None:
        return PressureRead(None)
    try:
        return future.result(timeout=max(deadline.remaining(), 0.0) + CUT_GRACE_SECONDS)
    except concurrent.futures.TimeoutError:
        # Its read was not cut in time (it should have been): still a call the cluster did not answer.
        return PressureRead(None, undecided="pull pressure not assessed: the cluster did not answer in time")


def admission_routes(gate: AdmissionGate) -> list[BaseRoute]:
    async def validate(request: Request) -> Response:
        body = await read_capped(request, MAX_REVIEW_BYTES)
        if body is None:
            return JSONResponse({"error": f"AdmissionReview larger than {MAX_REVIEW_BYTES} bytes"}, status_code=413)
        try:
            review = parse_review(body)
        except MalformedReview as exc:
            log.warning("malformed AdmissionReview refused: %s", exc)
            return JSONResponse({"error": f"malformed AdmissionReview: {exc}"}, status_code=400)
        outcome = await gate.review(review)
        if outcome.action is not None:
            log.info("admission %s: %s %s in %.3f s", outcome.action, review.workload, review.operation,
                     outcome.seconds, extra={"uid": review.uid})
        return JSONResponse(review_response(review.uid, allowed=outcome.allowed, message=outcome.message,
                                            code=403, warnings=outcome.warnings))

    return [Route(PATH, validate, methods=["POST"])]
