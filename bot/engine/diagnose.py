"""`diagnose(service, ...)`: resolve the service, run a playbook's checks, gather the timeline and the
rollback candidates, and return one `Diagnosis` that every surface renders (terminal, JSON, Slack).

This is the public entry point for the CLI, the Slack command and the PagerDuty jobs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot import timeline as tl
from bot.catalog import Catalog
from bot.checks import facts, rollout
from bot.domain import (
    NO_ROLLBACK_DECISION,
    Finding,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Severity,
    Target,
    TimelineEntry,
)
from bot.engine.cache import CachingClusterReader
from bot.checks.context import CheckContext
from bot.engine.playbook import Playbook
from bot.engine.resolve import WorkloadNotFound, resolve
from bot.engine.runner import CheckRun, OnCheckDone, merge_forbidden, order_findings, run_playbook
from bot.logs import carry_log_context
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReadError, ClusterReader, Clock, CoronerError, ImageReader
from bot.reasoning import reason
from bot.redact import redact, redact_json

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
        """Exactly the documented keys: service, target, findings, rollback_candidates, rollback, cause,
        timeline, duration_ms. Credentials in any string are redacted (`bot.redact`): this JSON is printed
        and posted."""
        return redact_json({
            "service": self.service,
            "target": self.target.to_json(),
            "findings": [
                {"rule": f.rule, "severity": f.severity.value, "title": f.title, "evidence": _jsonable(f.evidence)}
                for f in self.findings
            ],
            "rollback_candidates": [
                {"revision": c.revision, "image": c.image, "size_bytes": c.size_bytes, "healthy": c.healthy}
                for c in self.rollback_candidates
            ],
            "rollback": self.rollback.to_json(),
            "cause": self.cause.to_json() if self.cause is not None else None,
            "timeline": [{"at": e.at.isoformat(), "source": e.source, "text": e.text} for e in self.timeline],
            "duration_ms": self.duration_ms,
        })

    @property
    def recommended(self) -> RollbackCandidate | None:
        return next((c for c in self.rollback_candidates if c.recommended), None)

    def render_text(self) -> str:
        return render_text(self)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


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
    cached = CachingClusterReader(cluster)
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
        # Bounded by the run's timeout, which already caps every check that waits on these lists.
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
        cached.get_deployment(target.namespace, target.name)
    except ClusterNotFound:
        where = f" in context {target.context}" if target.context else ""
        raise WorkloadNotFound(
            f"{service!r} resolves through the {resolution.via} to Deployment {target.namespace}/{target.name}, "
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


NODE_EVENTS = "involvedObject.kind=Node"


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
        ("node-events", lambda: cached.list_events(None, field_selector=NODE_EVENTS)),
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


def _timeline(ctx: CheckContext, *, limit: int) -> list[TimelineEntry]:
    """Built from what the checks already fetched (the run's cache), plus node events."""
    groups: list[list[TimelineEntry]] = []
    try:
        groups.append(tl.event_entries(facts.service_events(ctx)))
    except ClusterReadError as exc:
        log.info("timeline without service events: %s", exc)
    try:
        groups.append(
            tl.revision_entries(ctx.target.namespace, ctx.target.name, facts.replicasets(ctx), container=ctx.container)
        )
    except ClusterReadError as exc:
        log.info("timeline without revisions: %s", exc)
    mine = facts.readable_service_node_names(ctx)
    try:
        nodes = facts.nodes(ctx)
        relevant = [n for n in nodes if n.name in mine]
        troubled = [n for n in nodes if n.name not in mine and tl.condition_entries([n])]
        chosen = (relevant + troubled)[:MAX_TIMELINE_NODES]
        groups.append(tl.condition_entries(chosen))
        try:
            node_events = ctx.cluster.list_events(None, field_selector=NODE_EVENTS)
            groups.append(tl.node_event_entries(node_events, chosen))
        except ClusterReadError as exc:
            log.info("timeline without node events: %s", exc)
    except ClusterReadError as exc:
        log.info("timeline without nodes: %s", exc)
    return tl.merge(*groups, limit=limit)


# --- the text rendering: it reads like the incident report ----------------------------------------

_MARK = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFO",
}


def summary_lines(d: Diagnosis) -> list[str]:
    """What happened, in causal order, one sentence per kind of evidence; each names its rule."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in d.findings:
        by_rule.setdefault(finding.rule, []).append(finding)

    def first(rule: str) -> Finding | None:
        return by_rule.get(rule, [None])[0]

    def nodes_of(rule: str) -> int:
        return len({str(f.evidence["node"]) for f in by_rule.get(rule, []) if "node" in f.evidence})

    out = []
    if (f := first("image-size-regression")) is not None:
        out.append(f"The current revision's image grew: {f.title} (image-size-regression).")
    if (f := first("crashloop")) is not None:
        out.append(f"{f.title} (crashloop).")
    if by_rule.get("node-disk-high") and nodes_of("node-disk-high"):
        worst = by_rule["node-disk-high"][0]
        ev = worst.evidence
        detail = (
            f"{ev['node']} {ev.get('filesystem', 'disk')} {ev['used_percent']:g}% used"
            if ev.get("used_percent") is not None
            else f"{ev['node']} reports DiskPressure"
        )
        out.append(f"{nodes_of('node-disk-high')} node(s) are short of disk, worst {detail} (node-disk-high).")
    if (n := nodes_of("node-not-ready")):
        out.append(f"{n} node(s) are NotReady (node-not-ready).")
    pressures = sorted({str(f.evidence.get("condition")) for f in by_rule.get("node-pressure", [])})
    if pressures and (n := nodes_of("node-pressure")):
        out.append(f"{n} node(s) report {', '.join(pressures)} (node-pressure).")
    if (f := first("hpa-scaling")) is not None:
        out.append(f"{f.title} (hpa-scaling).")
    if (f := first("pull-pressure")) is not None:
        out.append(f"{f.title} (pull-pressure).")
    if (f := first("registry-errors")) is not None:
        out.append(f"{f.title} (registry-errors).")
    if (f := first("evictions")) is not None:
        out.append(f"{f.title} (evictions).")
    if (f := first("pods-not-ready")) is not None:
        out.append(f"{f.title} (pods-not-ready).")
    rec = d.recommended
    if rec is not None and (f := first("rollback-candidate")) is not None and f.severity.rank <= Severity.HIGH.rank:
        out.append(f"Recommended: roll back to revision {rec.revision} ({rec.image}): {rec.undo_command}")
    return out


def render_text(d: Diagnosis) -> str:
    t = d.target
    context = f", context {t.context}" if t.context else ""
    lines = [
        f"Coroner diagnosis of {d.service}: {t.kind} {t.namespace}/{t.name}{context} "
        f"(found by {d.resolved_via or 'name'}; playbook {d.playbook}; {d.duration_ms} ms)",
        "",
    ]
    story = summary_lines(d)
    if story:
        lines.append("Summary:")
        lines.extend(f"  {line}" for line in story)
        lines.append("")
    counts = {s: sum(1 for f in d.findings if f.severity is s) for s in Severity}
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines.append(f"Findings ({summary or 'none'}):")
    advised: set[str] = set()
    for i, f in enumerate(d.findings, 1):
        lines.append(f"  {i:>2}. [{_MARK[f.severity]}] {f.rule}: {f.title}")
        # One piece of advice per rule: three full nodes need the same remedy once.
        if f.remediation and f.severity.rank <= Severity.HIGH.rank and f.rule not in advised:
            advised.add(f.rule)
            lines.append(f"      → {f.remediation}")
    if not d.findings:
        lines.append("  nothing wrong found.")
    lines.append("")
    lines.append("Rollback:")
    rec = d.recommended
    if rec is not None:
        size = facts.human_bytes(rec.size_bytes)
        window = f", live from {rec.live_from:%Y-%m-%d %H:%M:%S}" if rec.live_from else ""
        window += f" to {rec.live_until:%Y-%m-%d %H:%M:%S}" if rec.live_until else ""
        lines.append(f"  Recommended: revision {rec.revision}, {rec.image} ({size}), healthy then{window}.")
        lines.append(f"  Equivalent:  {rec.undo_command}")
        paths = ", ".join(f"{p['op']} {p['path']}" for p in rec.patch)
        lines.append(f"  Patch Coroner would apply (not applied): JSON patch {paths} (see --format json).")
    elif d.rollback_candidates:
        lines.append("  No earlier revision was healthy; nothing to recommend.")
    else:
        lines.append("  No earlier revision to roll back to.")
    for c in d.rollback_candidates:
        if c is rec:
            continue
        state = "healthy" if c.healthy else "unhealthy"
        lines.append(f"  - revision {c.revision}: {c.image} ({facts.human_bytes(c.size_bytes)}), {state}")
    lines.append("")
    lines.append("Timeline (UTC):")
    lines.extend(f"  {tl.render_line(e)}" for e in d.timeline)
    if not d.timeline:
        lines.append("  no events, revisions or condition changes recorded.")
    gaps = [r for r in d.checks if r.status != "ok"]
    if gaps:
        lines.append("")
        lines.append("Gaps:")
        lines.extend(f"  {r.check}: {r.status}: {r.error}" for r in gaps)
    return redact("\n".join(lines)) + "\n"
