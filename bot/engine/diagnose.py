"""`diagnose(service, ...)`: resolve the service, run a playbook's checks, gather the timeline and the
rollback candidates, and return one `Diagnosis` that every surface renders (terminal, JSON, Slack).

This is the public entry point for the CLI, the Slack command and the PagerDuty jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import timeline as tl
from bot.catalog import Catalog
from bot.checks import facts, rollout
from bot.checks.context import CheckContext, NotAssessed
from bot.deadline import Deadline, DeadlineExceeded
from bot.domain import (
    NO_ROLLBACK_DECISION,
    Finding,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Target,
    TimelineEntry,
)
from bot.engine.cache import CachingClusterReader
from bot.engine.playbook import Playbook
from bot.engine.resolve import WorkloadNotFound, resolve
from bot.engine.runner import CheckRun, OnCheckDone, merge_forbidden, run_playbook
from bot.logs import carry_log_context
from bot.ports import (
    Clock,
    ClusterForbidden,
    ClusterNotFound,
    ClusterReader,
    ClusterReadError,
    CoronerError,
    ImageReader,
)
from bot.reasoning import reason
from bot.render.json import diagnosis_json
from bot.render.order import order_findings

log = logging.getLogger(__name__)
MAX_TIMELINE_NODES = 50


@dataclass(frozen=True)
class Diagnosis:
    service: str
    target: Target
    findings: tuple[Finding, ...]
    rollback_candidates: tuple[RollbackCandidate, ...]
    timeline: tuple[TimelineEntry, ...]
    duration_ms: int
    playbook: str = "diagnose"
    resolved_via: str = ""
    checks: tuple[CheckRun, ...] = field(default=())
    # Decided once from the evidence (issue 9); every sink reads these and re-derives nothing.
    rollback: RollbackDecision = NO_ROLLBACK_DECISION
    cause: ProbableCause | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON sink's rendering (`bot.render.json`): what `--format json` prints."""
        return diagnosis_json(self)

    @property
    def recommended(self) -> RollbackCandidate | None:
        """The candidate the rollback decision names, when it recommends one."""
        if not self.rollback.recommended:
            return None
        return next((c for c in self.rollback_candidates if c.revision == self.rollback.revision), None)


def diagnose(
    service: str,
    *,
    cluster: ClusterReader,
    playbook: Playbook,
    images: ImageReader | None = None,
    catalog: Catalog | None = None,
    namespace: str | None = None,
    node_proxy_enabled: bool = False,
    clock: Clock | None = None,
    timeline_limit: int = 200,
    on_check_done: OnCheckDone | None = None,
) -> Diagnosis:
    """Raises `UnknownService`/`AmbiguousService` when the name does not pick one workload, and
    `ClusterReadError` when the workload itself cannot be read; every other gap becomes a finding.
    `on_check_done(check, status)` hears each check's outcome as the run learns it (Slack's progress)."""
    started = time.monotonic()
    # Every read of the run stops at its budget: resolving the service, the prefetches, the timeline and
    # the candidates; each check reads through a view bounded by its own, shorter deadline (the runner's).
    cached = CachingClusterReader(cluster, deadline=Deadline(started + playbook.timeout_seconds))
    prefetches = _prefetch(cached)
    try:
        return _diagnose(
            service,
            started=started,
            cached=cached,
            playbook=playbook,
            images=images,
            catalog=catalog,
            namespace=namespace,
            node_proxy_enabled=node_proxy_enabled,
            clock=clock,
            timeline_limit=timeline_limit,
            on_check_done=on_check_done,
        )
    finally:
        # Also when resolution fails: a prefetch still talking to the API server while the CLI exits
        # can abort the interpreter at shutdown (exit 134 instead of the error's own exit code).
        # Bounded by the run's timeout, which already caps every check that waits on these lists and the
        # prefetches' own reads (the watchdog cuts theirs then).
        deadline = started + playbook.timeout_seconds
        for thread in prefetches:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))


def _diagnose(
    service: str,
    *,
    started: float,
    cached: CachingClusterReader,
    playbook: Playbook,
    images: ImageReader | None,
    catalog: Catalog | None,
    namespace: str | None,
    node_proxy_enabled: bool,
    clock: Clock | None,
    timeline_limit: int,
    on_check_done: OnCheckDone | None,
) -> Diagnosis:
    resolution = resolve(service, cluster=cached, catalog=catalog, namespace=namespace)
    target = resolution.target
    try:
        facts.get_workload(cached, target.kind, target.namespace, target.name)
    except ClusterNotFound:
        where = f" in context {target.context}" if target.context else ""
        raise WorkloadNotFound(
            f"{service!r} resolves through the {resolution.via} to {target.kind} {target.namespace}/{target.name}, "
            f"which does not exist{where}"
        ) from None
    except ClusterForbidden as exc:
        raise ClusterForbidden(
            f"forbidden: needs {exc.verb} on {exc.resource} in namespace {target.namespace} to diagnose {service}",
            verb=exc.verb,
            resource=exc.resource,
        ) from exc
    now = clock.now() if clock else cached.clock.now()  # the cluster's clock: ages as its timestamps see them
    ctx = CheckContext(
        service=service,
        target=target,
        cluster=cached,
        now=now,
        images=images,
        entry=resolution.entry,
        node_proxy_enabled=node_proxy_enabled,
        deadline=Deadline(started + playbook.timeout_seconds),
    )
    runs = run_playbook(ctx, playbook, on_check_done=on_check_done)
    found = merge_forbidden([f for run in runs for f in run.findings])
    reasoned = reason(found, _candidates(ctx), where=f"{target.namespace}/{target.name}")
    timeline = _timeline(ctx, limit=timeline_limit)
    return Diagnosis(
        service=service,
        target=target,
        findings=tuple(order_findings(list(reasoned.findings))),
        rollback_candidates=reasoned.candidates,
        timeline=tuple(timeline),
        duration_ms=int((time.monotonic() - started) * 1000),
        playbook=playbook.name,
        resolved_via=resolution.via,
        checks=tuple(runs),
        rollback=reasoned.rollback,
        cause=reasoned.cause,
    )


def _prefetch(cached: CachingClusterReader) -> list[threading.Thread]:
    """Start listing nodes and node events while the service is being resolved: every diagnosis needs
    them, and on a 2,000-node cluster the node list is the largest. Errors are memoised and met again
    by the checks and the timeline, which report them. The caller joins the returned threads."""

    def work(fetch: Callable[[], object]) -> None:
        try:
            fetch()
        except CoronerError:
            pass

    threads = []
    for name, fetch in (
        ("nodes", cached.list_nodes),
        ("node-events", lambda: cached.list_events(None, field_selector=facts.NODE_EVENTS)),
    ):
        thread = threading.Thread(target=carry_log_context(work), args=(fetch,), name=f"prefetch-{name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _candidates(ctx: CheckContext) -> list[RollbackCandidate]:
    try:
        return rollout.candidates(ctx)
    except CoronerError as exc:
        log.info("no rollback candidates: %s", exc)
        return []


# What the timeline goes without: a read refused or failed, or one the run's budget ended (a list a
# timed-out check was still waiting for is not waited for again).
_TIMELINE_GAPS = (ClusterReadError, DeadlineExceeded)


def _timeline(ctx: CheckContext, *, limit: int) -> list[TimelineEntry]:
    """Built from what the checks already fetched (the run's cache), plus node events."""
    groups: list[list[TimelineEntry]] = []
    try:
        groups.append(tl.event_entries(facts.service_events(ctx)))
    except _TIMELINE_GAPS as exc:
        log.info("timeline without service events: %s", exc)
    try:
        units = facts.replicasets(ctx) if ctx.target.kind == "Deployment" else facts.controller_revisions(ctx)
        groups.append(tl.revision_entries(ctx.target.namespace, ctx.target.name, units, container=ctx.container,
                                          kind=ctx.target.kind))
    except (*_TIMELINE_GAPS, NotAssessed) as exc:
        log.info("timeline without revisions: %s", exc)
    try:
        mine = facts.readable_service_node_names(ctx)
    except DeadlineExceeded:
        mine = set()
    try:
        nodes = facts.nodes(ctx)
        relevant = [n for n in nodes if n.name in mine]
        troubled = [n for n in nodes if n.name not in mine and tl.condition_entries([n])]
        chosen = (relevant + troubled)[:MAX_TIMELINE_NODES]
        groups.append(tl.condition_entries(chosen))
        try:
            node_events = ctx.cluster.list_events(None, field_selector=facts.NODE_EVENTS)
            groups.append(tl.node_event_entries(node_events, chosen))
        except _TIMELINE_GAPS as exc:
            log.info("timeline without node events: %s", exc)
    except _TIMELINE_GAPS as exc:
        log.info("timeline without nodes: %s", exc)
    return tl.merge(*groups, limit=limit)
