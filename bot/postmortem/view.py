"""The postmortem view model: plain evidence in, everything the template needs out.

Nothing here reads a clock or a random source, and every list is sorted, so the same evidence always
gives the same view and therefore byte-identical Markdown. Each finding gets a stable reference
(`F1`, `F2`, … in severity order) and every claim in the draft cites those references, rule ids,
layer indexes or timeline times, so a reviewer can check it.

Strings in the view are raw: the renderer escapes them. `Md` values are Markdown built here on purpose
(code spans, the diff block) and are emitted as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain import (
    Finding,
    Incident,
    ProbableCause,
    RollbackCandidate,
    RollbackDecision,
    Severity,
    Target,
    TimelineEntry,
)
from bot.postmortem.actions import ActionItem, Context, Remedy, action_items
from bot.postmortem.evidence import DockerfileFix, ImageSummary, LayerSummary
from bot.postmortem.markdown import Md, code, fenced, first_clause, inline, shorten
from bot.postmortem.readiness import NotReady, not_ready_of, peak
from bot.postmortem.response import Figure, Response, response
from bot.reasoning import reason
from bot.render import timeline as tl
from bot.render.blame import IMAGE_SIZE_RULES, image_blamed
from bot.render.order import order_findings, order_timeline, utc
from bot.render.values import evidence_pairs, stamp
from bot.units import human_bytes, plural


# Layers at least this share of the image and this big are culprits even when no finding names them.
CULPRIT_SHARE = 0.20
CULPRIT_MIN_BYTES = 100 * 1024 * 1024
TOP_PATHS = 5
INSTRUCTION_MAX = 80


@dataclass(frozen=True)
class FindingView:
    ref: str  # "F1": the finding's anchor in the evidence appendix
    rule: str
    severity: str
    title: str
    evidence: tuple[tuple[str, str], ...]
    remediation: str | None
    check: str | None


@dataclass(frozen=True)
class TimelineLine:
    at: str  # "2024-05-14 03:02:11", UTC
    source: str
    text: str


@dataclass(frozen=True)
class PathView:
    path: str
    size: str


@dataclass(frozen=True)
class LayerView:
    index: int
    instruction: str  # shortened to INSTRUCTION_MAX characters for prose and tables
    instruction_full: str
    size: str
    size_bytes: int
    share: str  # "49%" of the image
    culprit: bool
    top_paths: tuple[PathView, ...]
    refs: tuple[str, ...]  # findings that name this layer


@dataclass(frozen=True)
class ImageView:
    ref: str
    size: str
    size_bytes: int
    previous_ref: str | None
    previous_size: str | None
    growth: str | None  # "19.5×"
    layers: tuple[LayerView, ...]
    culprits: tuple[LayerView, ...]  # largest first


@dataclass(frozen=True)
class Claim:
    """A sentence (Markdown, built here) and the evidence it rests on."""

    text: Md
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkView:
    """One link of the causal chain with the findings it rests on. `amplifies`: the link is load the platform
    added to the failure (an amplifier, or the autoscaler, pull or registry load), told under Contributing
    factors rather than in the chain, so it is said once."""

    role: str
    text: str
    refs: tuple[str, ...]
    amplifies: bool = False


@dataclass(frozen=True)
class CauseView:
    summary: str
    confidence: str
    links: tuple[LinkView, ...]
    ruled_out: tuple[str, ...]
    candidates: tuple[str, ...]
    refs: tuple[str, ...]  # every finding the chain cites


@dataclass(frozen=True)
class MomentLine:
    """A line of the curated timeline: `at` (`02:58:21`, or a range `02:58:21–03:03:30`), a label, the text."""

    at: str
    label: str
    text: str


@dataclass(frozen=True)
class FigureView:
    name: str
    span: str
    value: str | None  # "24 min"; None = missing
    start: str | None
    end: str | None
    note: str | None


@dataclass(frozen=True)
class ImpactView:
    duration: str | None  # page -> resolution
    since_first_symptom: str | None  # first symptom -> resolution
    first_symptom: str | None
    services: tuple[str, ...]
    nodes: tuple[str, ...]
    pods_not_ready_peak: str | None  # "25 of 30"
    pods_ref: str | None
    also_hit: tuple[str, ...] = ()  # "shop/recommendation-api (2 pods)": other workloads the same trouble hit
    also_hit_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RollbackView:
    revision: int
    image: str
    size: str | None
    healthy: bool
    recommended: bool
    undo_command: str | None
    live_from: str | None
    live_until: str | None


@dataclass(frozen=True)
class FixView:
    path: str
    diff_block: Md
    notes: tuple[str, ...]
    rules: tuple[str, ...]
    dockerignore_path: str
    dockerignore_block: Md | None
    estimate: str | None = None  # "≈ 390 MB instead of 4.2 GB": the fix's predicted size, an estimate
    hygiene: bool = False  # the image did not cause this incident: the patch is hygiene, not the fix
    estimate_items: tuple[str, ...] = ()  # what the fixed image drops, one line each


@dataclass(frozen=True)
class IncidentView:
    id: str
    title: str
    service: str | None
    source: str
    external_id: str | None
    number: int | None
    urgency: str | None
    status: str
    html_url: str | None
    started: str
    resolved: str | None
    duration: str | None  # "2 h 30 min"


@dataclass(frozen=True)
class PostmortemView:
    incident: IncidentView
    summary: Md  # one paragraph: what broke, how long, the cause, the resolution, what to change
    impact: ImpactView
    response: tuple[FigureView, ...]
    rollback_reason: str | None  # the diagnosis's rollback decision, in its words
    cause: CauseView | None
    image: ImageView | None
    factors: tuple[Claim, ...]  # the amplifiers
    timeline: tuple[MomentLine, ...]  # curated, repeats folded
    full_timeline: tuple[TimelineLine, ...]  # the appendix
    action_items: tuple[ActionItem, ...]
    went_well: tuple[Claim, ...]
    went_wrong: tuple[Claim, ...]
    lucky: tuple[Claim, ...]
    fix: FixView | None
    rollback: RollbackView | None  # the recommended candidate
    other_candidates: tuple[RollbackView, ...]
    findings: tuple[FindingView, ...]  # every finding, in reference order
    gaps: tuple[str, ...] = ()  # evidence that could not be gathered, said in the draft (never silently absent)


def build_view(
    *,
    incident: Incident,
    timeline: Sequence[TimelineEntry],
    findings: Sequence[Finding],
    rollback_candidates: Sequence[RollbackCandidate] = (),
    image: ImageSummary | None = None,
    dockerfile_fix: DockerfileFix | None = None,
    cause: ProbableCause | None = None,
    rollback: RollbackDecision | None = None,
    target: Target | None = None,
    gaps: Sequence[str] = (),
    readiness: Sequence[NotReady] = (),
) -> PostmortemView:
    """Assemble the view. Pure and deterministic: input order does not change the output. Without the
    diagnosis's own `cause` and `rollback` (a bundle written before issue 9), `bot.reasoning.reason` decides
    them from the findings and candidates, as the engine does. `readiness`: the pods not ready as the
    incident's other diagnosis runs measured them, for the peak in Impact."""
    if cause is None or rollback is None:
        where = f"{target.namespace}/{target.name}" if target else incident.service or "the service"
        reasoned = reason(findings, rollback_candidates, where=where)
        findings, rollback_candidates = reasoned.findings, reasoned.candidates
        cause, rollback = cause or reasoned.cause, rollback or reasoned.rollback
    ordered = order_findings(findings)
    finding_views = tuple(_finding_view(i + 1, f) for i, f in enumerate(ordered))
    raw_by_ref = {fv.ref: f for fv, f in zip(finding_views, ordered, strict=True)}
    refs_by_rule: dict[str, tuple[str, ...]] = {}
    for fv in finding_views:
        refs_by_rule[fv.rule] = (*refs_by_rule.get(fv.rule, ()), fv.ref)
    candidates = sorted(rollback_candidates, key=lambda c: (not c.recommended, not c.healthy, -c.revision))
    decision = rollback
    recommended = next((c for c in candidates if decision.recommended and c.revision == decision.revision), None)
    # The service's own rollout is to blame only when the decision says so; the image only when its size
    # findings are in the chain. Otherwise the last rollout is context and the Dockerfile's findings hygiene.
    change_implicated = decision.recommended or bool(decision.implicated_by)
    image_is_cause = image_blamed(cause, decision)
    image_view = _image_view(image, raw_by_ref, recommended, image_is_cause=image_is_cause) if image else None

    moments = tl.fold(timeline)
    resp = response(moments, resolved_at=incident.resolved_at, change_implicated=change_implicated)
    cause_view = _cause_view(cause, refs_by_rule) if cause is not None else None
    fix_view = _fix_view(dockerfile_fix, hygiene=not image_is_cause) if dockerfile_fix else None
    detect = resp.figures[0].seconds
    trigger = next((link for link in (cause.chain if cause else ()) if link.role == "trigger"), None)
    items = action_items(
        Context(refs_by_rule=refs_by_rule, fix_path=dockerfile_fix.path if dockerfile_fix else None,
                fix_estimate=fix_view.estimate if fix_view else None,
                rollback=decision,
                undo_command=recommended.undo_command or None if recommended else None, detect_seconds=detect,
                service=target.name if target else incident.service, namespace=target.namespace if target else None,
                image_is_cause=image_is_cause, trigger_rules=tuple(trigger.rules) if trigger else (),
                trigger_text=trigger.text if trigger else None, rollout_is_trigger=change_implicated,
                node_conditions=_evidence_values(ordered, "node-pressure", "condition"),
                filesystems=_evidence_values(ordered, "node-disk-high", "filesystem"),
                findings={rule: tuple(f for f in ordered if f.rule == rule) for rule in refs_by_rule},
                contributing=_chain_rules(cause)),
        contributing=frozenset(cause.supporting if cause else ()),
        remedies={rule: [Remedy(fv.ref, fv.remediation, Severity(fv.severity).rank <= Severity.HIGH.rank, fv.check)
                         for fv in finding_views if fv.rule == rule] for rule in refs_by_rule},
        fix_rules=frozenset(fix_view.rules if fix_view else ()),
    )
    incident_view = _incident_view(incident)
    impact = _impact(incident, resp, ordered, refs_by_rule, readiness)
    figures = tuple(_figure_view(f) for f in resp.figures)
    return PostmortemView(
        incident=incident_view,
        summary=_summary(incident_view, impact, cause, resp, decision, recommended, items),
        impact=impact,
        response=figures,
        rollback_reason=decision.reason if decision.reason else None,
        cause=cause_view,
        image=image_view,
        factors=_factors(cause_view, refs_by_rule, change_implicated=change_implicated and not image_is_cause,
                         neighbour=next((f for f in ordered if f.rule == "noisy-neighbour"), None)),
        timeline=tuple(_moment_line(m, day=incident.created_at)
                       for m in tl.curate(moments, change_implicated=change_implicated)),
        full_timeline=tuple(TimelineLine(stamp(e.at), e.source, e.text) for e in order_timeline(timeline)),
        action_items=items,
        went_well=_went_well(image_view, recommended, figures),
        went_wrong=_went_wrong(cause_view, figures, decision, change_implicated=change_implicated),
        lucky=_lucky(recommended, candidates),
        fix=fix_view,
        rollback=_rollback_view(recommended) if recommended else None,
        other_candidates=tuple(_rollback_view(c) for c in candidates if c is not recommended),
        findings=finding_views,
        gaps=tuple(gaps),
    )


def _finding_view(number: int, finding: Finding) -> FindingView:
    return FindingView(
        ref=f"F{number}",
        rule=finding.rule,
        severity=finding.severity.value,
        title=finding.title,
        evidence=tuple(evidence_pairs(finding.evidence)),
        remediation=finding.remediation,
        check=finding.check,
    )


def duration_text(*, start: datetime, end: datetime) -> str:
    """`2 h 30 min`, `20 min`, `45 s`: whole units, for people."""
    seconds = max(0, int((utc(end) - utc(start)).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _incident_view(incident: Incident) -> IncidentView:
    return IncidentView(
        id=incident.id,
        title=incident.title,
        service=incident.service,
        source=incident.source,
        external_id=incident.external_id,
        number=incident.number,
        urgency=incident.urgency,
        status=incident.status,
        html_url=incident.html_url,
        started=stamp(incident.created_at),
        resolved=stamp(incident.resolved_at) if incident.resolved_at else None,
        duration=duration_text(start=incident.created_at, end=incident.resolved_at) if incident.resolved_at else None,
    )


def _layer_refs(layer: LayerSummary, findings: dict[str, Finding]) -> tuple[str, ...]:
    """Size findings whose evidence names this layer by index (`layer`, `layer_index`) or by digest."""
    refs = []
    for ref, finding in findings.items():
        if finding.rule not in IMAGE_SIZE_RULES:  # the findings that name the layers of the layer table
            continue  # runs-as-root or a secret names a layer too, but does not make it big
        evidence = finding.evidence
        named = [evidence.get(k) for k in ("layer", "layer_index")]
        digests = [evidence.get(k) for k in ("layer_digest", "digest")]
        if layer.index in named or (layer.digest and layer.digest in digests):
            refs.append(ref)
    return tuple(refs)


def _image_view(
    image: ImageSummary, findings: dict[str, Finding], recommended: RollbackCandidate | None, *,
    image_is_cause: bool = True,
) -> ImageView:
    """The image's layers; the culprits (big or named by a size finding) only when the image is the cause."""
    total = image.size_bytes
    layers = []
    for layer in sorted(image.layers, key=lambda la: la.index):
        refs = _layer_refs(layer, findings)
        big = total > 0 and layer.size_bytes >= CULPRIT_SHARE * total and layer.size_bytes >= CULPRIT_MIN_BYTES
        paths = sorted(layer.top_paths, key=lambda p: (-p.size_bytes, p.path))[:TOP_PATHS]
        layers.append(
            LayerView(
                index=layer.index,
                instruction=shorten(layer.instruction, INSTRUCTION_MAX),
                instruction_full=layer.instruction,
                size=human_bytes(layer.size_bytes),
                size_bytes=layer.size_bytes,
                share=f"{layer.size_bytes / total * 100:.0f}%" if total else "0%",
                culprit=image_is_cause and (big or bool(refs)),
                top_paths=tuple(PathView(p.path, human_bytes(p.size_bytes)) for p in paths),
                refs=refs,
            )
        )
    previous_bytes = image.previous_total_bytes
    previous_ref = image.previous_ref
    if previous_bytes is None and recommended is not None and recommended.size_bytes:
        previous_bytes, previous_ref = recommended.size_bytes, recommended.image
    growth = f"{total / previous_bytes:.1f}×" if previous_bytes else None
    return ImageView(
        ref=image.ref,
        size=human_bytes(total),
        size_bytes=total,
        previous_ref=previous_ref,
        previous_size=human_bytes(previous_bytes) if previous_bytes is not None else None,
        growth=growth,
        layers=tuple(layers),
        culprits=tuple(sorted((la for la in layers if la.culprit), key=lambda la: (-la.size_bytes, la.index))),
    )


# Rules whose facts are load the platform put on itself once the change failed: the autoscaler adding
# pods, their pulls, the registry answering errors under them.
AMPLIFYING_RULES = frozenset({"hpa-scaling", "pull-pressure", "registry-errors", "image-pull-slow"})


def _chain_rules(cause: ProbableCause | None) -> frozenset[str]:
    """Every rule the causal chain cites, and the ones it rests on."""
    if cause is None:
        return frozenset()
    return frozenset({*cause.supporting, *(r for link in cause.chain for r in link.rules)})


def _cause_view(cause: ProbableCause, refs_by_rule: dict[str, tuple[str, ...]]) -> CauseView:
    # The platform's load amplifies a failure that started elsewhere; when the load is the trigger itself (an
    # HPA at its maximum), it is the story, told in the chain, not a contributing factor.
    trigger_rules = {r for link in cause.chain if link.role == "trigger" for r in link.rules}
    links = tuple(
        LinkView(link.role, link.text, _refs_of(refs_by_rule, link.rules),
                 amplifies=link.role == "amplifier" or (
                     link.role != "trigger" and bool(link.rules) and set(link.rules) <= AMPLIFYING_RULES
                     and not set(link.rules) & trigger_rules))
        for link in cause.chain)
    return CauseView(summary=cause.summary, confidence=cause.confidence.value, links=links,
                     ruled_out=cause.ruled_out, candidates=cause.candidates,
                     refs=_refs_of(refs_by_rule, cause.supporting))


def _refs_of(refs_by_rule: dict[str, tuple[str, ...]], rules: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({r for rule in rules for r in refs_by_rule.get(rule, ())}, key=_ref_key))


def _figure_view(figure: Figure) -> FigureView:
    seconds = figure.seconds
    return FigureView(
        name=figure.name, span=figure.span,
        value=duration_text(start=figure.start, end=figure.end) if seconds is not None and figure.start
        and figure.end else None,
        start=stamp(figure.start) if figure.start else None, end=stamp(figure.end) if figure.end else None,
        note=figure.note,
    )


def _moment_line(moment: tl.Moment, *, day: datetime) -> MomentLine:
    """Times of the incident's own day as `HH:MM:SS`; a moment of another day (a rollout days before)
    carries its date, so the list reads in order."""
    at = _clock_on(moment.first, day)
    if moment.last > moment.first and moment.folded:
        at += f"–{_clock_on(moment.last, day)}"
    text = f"{moment.text} (×{moment.count})" if moment.count > 1 else moment.text
    return MomentLine(at=at, label=moment.label or moment.kind, text=text)


def _clock_on(at: datetime, day: datetime) -> str:
    return f"{utc(at):%H:%M:%S}" if utc(at).date() == utc(day).date() else stamp(at)


def _evidence_values(findings: Sequence[Finding], rule: str, key: str) -> tuple[str, ...]:
    return tuple(sorted({str(f.evidence[key]) for f in findings if f.rule == rule and f.evidence.get(key)}))


def _impact(incident: Incident, resp: Response, findings: Sequence[Finding],
            refs_by_rule: dict[str, tuple[str, ...]], readiness: Sequence[NotReady]) -> ImpactView:
    end = incident.resolved_at
    symptom = resp.first_symptom.first if resp.first_symptom else None
    top = peak([not_ready_of(findings), *readiness])
    peak_text = None
    if top is not None:
        peak_text = top.text()
        if top.count == 0:
            peak_text += " (every pod was ready whenever Coroner diagnosed)"
        elif top.at is not None:  # measured by an earlier run, whose findings the appendix does not list
            peak_text += f" (diagnosis at {stamp(top.at)})"
    return ImpactView(
        duration=duration_text(start=incident.created_at, end=end) if end else None,
        since_first_symptom=duration_text(start=symptom, end=end) if symptom and end else None,
        first_symptom=stamp(symptom) if symptom else None,
        services=(incident.service,) if incident.service else (),
        nodes=_affected_nodes(findings),
        pods_not_ready_peak=peak_text,
        pods_ref=refs_by_rule.get("pods-not-ready", (None,))[0] if top is not None and top.at is None else None,
        also_hit=_also_hit(findings, incident.service),
        also_hit_refs=refs_by_rule.get("blast-radius", ()) if _also_hit(findings, incident.service) else (),
    )


def _also_hit(findings: Sequence[Finding], service: str | None) -> tuple[str, ...]:
    """Other workloads whose pods the same node trouble hit, with their count (the blast radius)."""
    hit: dict[str, int] = {}
    for finding in findings:
        workloads = finding.evidence.get("workloads_hit") if finding.rule == "blast-radius" else None
        if isinstance(workloads, Mapping):
            for name, count in workloads.items():
                if str(name).split("/")[-1] != service and isinstance(count, int):
                    hit[str(name)] = hit.get(str(name), 0) + count
    return tuple(f"{name} ({plural(count, 'pod')})" for name, count in sorted(hit.items()))


def _summary(inc: IncidentView, impact: ImpactView, cause: ProbableCause | None, resp: Response,
             decision: RollbackDecision, recommended: RollbackCandidate | None,
             items: Sequence[ActionItem]) -> Md:
    """One paragraph a reviewer can stop after: what broke and for how long, why, how it ended, what to do."""
    who = code(inc.service) if inc.service else "The service"
    broke = f"{who} was degraded ({inline(inc.title)})"
    if inc.duration:
        broke += f" for {inc.duration}, from the page at {inc.started} to the resolution at {inc.resolved} UTC"
        if impact.since_first_symptom:
            broke += f" ({impact.since_first_symptom} since the first symptom at {impact.first_symptom})"
    else:
        broke += f", ongoing since the page at {inc.started} UTC"
    sentences = [broke + "."]
    if cause is not None and cause.chain:
        sentences.append(f"Probable cause ({cause.confidence.value} confidence): {inline(cause.summary)}.")
        if cause.candidates:
            sentences.append("Other candidates: " + "; ".join(inline(c) for c in cause.candidates) + ".")
    elif cause is not None and cause.candidates:
        sentences.append("The evidence does not single out one cause; candidates: "
                         + "; ".join(inline(c) for c in cause.candidates) + ".")
    elif cause is not None and cause.summary:
        # The diagnosis looked and found nothing wrong in the cluster: say so, and where to look instead.
        sentences.append(f"Coroner found nothing in the cluster that explains the page ({inline(cause.summary)}); "
                         "the cause lies outside the cluster's state (dependencies, traffic, the alert's own "
                         "data), and the reviewers should state it.")
    else:
        sentences.append("No probable cause was established from the evidence; the reviewers should state it.")
    if resp.change is not None and resp.page is not None:
        sentences.append(f"The change went out at {_clock_on(resp.change.first, resp.page.first)} and was detected "
                         f"{duration_text(start=resp.change.first, end=resp.page.first)} later by the page.")
    if resp.rollback is not None:
        sentences.append(f"It was mitigated by a rollback at {resp.rollback.first:%H:%M:%S}.")
    elif decision.recommended and recommended is not None:
        sentences.append(f"Coroner recommended rolling back to revision {recommended.revision} "
                         f"({code(recommended.undo_command) if recommended.undo_command else 'see Rollback'}); "
                         "no rollback is recorded in the timeline.")
    elif inc.resolved:
        # How it ended is part of the story; when nothing in the timeline says, the draft says so.
        sentences.append("No rollback was indicated, and the timeline records no mitigation before the resolution: "
                         "the reviewers should say what ended it.")
    first = [i for i in items if i.priority == "P0"]
    if first:
        # Each P0's first clause: the Summary says what to change, the Action items say all of it.
        short = [first_clause(i.title) for i in first]
        sentences.append("To prevent a recurrence: " + "; ".join(Md(s[0].lower() + s[1:]) for s in short)
                         + " (see Action items).")
    return Md(" ".join(sentences))


def _factors(cause: CauseView | None, refs_by_rule: dict[str, tuple[str, ...]], *, change_implicated: bool,
             neighbour: Finding | None) -> tuple[Claim, ...]:
    """What amplified the failure (`LinkView.amplifies`); the missing gate when the trigger was a change that
    grew the image, or the missing check when it was another change of the service's; the PriorityClass that
    let a neighbour outrank the pods it crowded out."""
    claims = [Claim(Md(inline(link.text[0].upper() + link.text[1:])), link.refs)
              for link in (cause.links if cause else ()) if link.amplifies]
    growth = refs_by_rule.get("image-size-regression") or refs_by_rule.get("size-regression")
    trigger = next((link for link in cause.links if link.role == "trigger"), None) if cause else None
    if growth:
        claims.append(Claim(Md("No gate stopped the change: nothing in CI compared the new image with the running "
                               "one or failed on the Dockerfile's findings, so the grown image was pushed and "
                               "rolled out"), growth))
    elif change_implicated and trigger is not None:
        claims.append(Claim(Md(f"No check before production caught the change ({inline(trigger.text)}): its new "
                               "pods failed only once they ran there"), trigger.refs))
    if neighbour is not None and neighbour.evidence.get("priority_class") and not neighbour.evidence.get("is_service"):
        ev = neighbour.evidence
        claims.append(Claim(Md(f"{inline(str(ev.get('workload')))} runs at PriorityClass "
                               f"{code(str(ev['priority_class']))} ({ev.get('priority')}): under pressure the kubelet "
                               "evicts lower-priority pods first, so the pods around it went before it did"),
                            refs_by_rule.get("noisy-neighbour", ())))
    return tuple(claims)


def _affected_nodes(findings: Sequence[Finding]) -> tuple[str, ...]:
    nodes: set[str] = set()
    for finding in findings:
        for key in ("node", "nodes"):
            value = finding.evidence.get(key)
            if isinstance(value, str):
                nodes.add(value)
            elif isinstance(value, Mapping):  # a mapping counts per node: its keys
                nodes.update(str(v) for v in value)
            elif isinstance(value, list | tuple):  # names, or per-node records that carry their "node"
                for item in value:
                    name = item.get("node") if isinstance(item, Mapping) else item
                    if isinstance(name, str):
                        nodes.add(name)
    return tuple(sorted(nodes))


def _figure(figures: Sequence[FigureView], name: str) -> FigureView | None:
    return next((f for f in figures if f.name == name), None)


# Below these, a response step went well; above, it is a lesson (PagerDuty's guide: detect and acknowledge
# within minutes).
DETECT_WELL_SECONDS = 10 * 60
ACK_WELL_SECONDS = 5 * 60


def _went_well(image: ImageView | None, recommended: RollbackCandidate | None,
               figures: Sequence[FigureView]) -> tuple[Claim, ...]:
    claims = []
    ack = _figure(figures, "Time to acknowledge")
    if ack is not None and ack.value is not None and _seconds(ack) <= ACK_WELL_SECONDS:
        claims.append(Claim(Md(f"The page was acknowledged {ack.value} after it fired")))
    if image is not None and image.culprits:
        refs = tuple(sorted({r for la in image.culprits for r in la.refs}, key=_ref_key))
        claims.append(Claim(Md(f"The image history named the culprit layers ({len(image.culprits)}), with their "
                               "largest paths, while the incident was open"), refs))
    if recommended is not None and recommended.healthy:
        claims.append(Claim(Md(f"The diagnosis named a healthy revision to roll back to (revision "
                               f"{recommended.revision})")))
    return tuple(claims)


def _seconds(figure: FigureView) -> int:
    assert figure.start is not None and figure.end is not None
    return int((datetime.fromisoformat(figure.end) - datetime.fromisoformat(figure.start)).total_seconds())


def _went_wrong(cause: CauseView | None, figures: Sequence[FigureView], decision: RollbackDecision, *,
                change_implicated: bool) -> tuple[Claim, ...]:
    """A change reached production unchecked only when the trigger was the service's own change; a rollback
    was not taken only when one was recommended."""
    claims = []
    trigger = next((link for link in cause.links if link.role == "trigger"), None) if cause is not None else None
    if trigger is not None and change_implicated:
        claims.append(Claim(Md("The change that triggered it reached production unchecked (see Contributing "
                               "factors)"), trigger.refs))
    elif trigger is not None and not trigger.refs:
        # The chain's first link rests on no finding ("something other than the rollout changed"): say so.
        claims.append(Claim(Md(f"The evidence did not establish the trigger ({inline(trigger.text)}): the reviewers "
                               "should name it")))
    elif trigger is not None:
        # Not the service's own change: what went wrong is that nothing contained the trigger.
        claims.append(Claim(Md(f"Nothing contained the trigger ({inline(trigger.text)}) before it reached the "
                               "service's pods"), trigger.refs))
    detect = _figure(figures, "Time to detect")
    if detect is not None and detect.value is not None and _seconds(detect) > DETECT_WELL_SECONDS:
        why = ("the page came from the symptom, not from the rollout's own health" if detect.span.startswith("change")
               else "nothing paged on the first symptom")
        claims.append(Claim(Md(f"Detection took {detect.value}: {why}")))
    amplifiers = [link for link in (cause.links if cause else ()) if link.amplifies]
    if amplifiers:
        claims.append(Claim(Md("The platform amplified the failure instead of containing it (see Contributing "
                               "factors)"), tuple(sorted({r for a in amplifiers for r in a.refs}, key=_ref_key))))
    mitigate = _figure(figures, "Time to mitigate")
    if (decision.recommended and mitigate is not None and mitigate.value is not None
            and mitigate.span.endswith("recovery")):
        claims.append(Claim(Md("The recommended rollback was not taken, so mitigation waited for the resolution")))
    return tuple(claims)


def _lucky(recommended: RollbackCandidate | None, candidates: Sequence[RollbackCandidate]) -> tuple[Claim, ...]:
    claims = []
    if recommended is not None and recommended.healthy:
        claims.append(Claim(Md(f"Revision {recommended.revision}'s ReplicaSet was still in the history, so a "
                               "rollback needed no rebuild")))
    return tuple(claims)


def _fix_view(fix: DockerfileFix, *, hygiene: bool) -> FixView:
    estimate = fix.size_estimate
    # "≈ 43 MB instead of 43 MB" says nothing: the estimate is shown only when the fix changes the size.
    changes_size = estimate is not None and human_bytes(estimate.estimated_bytes) != human_bytes(estimate.current_bytes)
    return FixView(
        hygiene=hygiene,
        path=fix.path,
        diff_block=fenced(fix.diff, "diff"),
        notes=fix.notes,
        # The .dockerignore the patch writes answers `dockerignore-missing` too.
        rules=tuple(sorted({*fix.rules, *(("dockerignore-missing",) if fix.dockerignore else ())})),
        dockerignore_path=fix.dockerignore_path,
        # A patch that already carries the .dockerignore as a hunk says it once, in the diff.
        dockerignore_block=(fenced(fix.dockerignore, "gitignore")
                            if fix.dockerignore and f"+++ b/{fix.dockerignore_path}" not in fix.diff else None),
        estimate=estimate.describe() if estimate is not None and changes_size else None,
        estimate_items=tuple(f"{r.item} {human_bytes(r.size_bytes)} ({r.rule}, layer {r.layer})"
                             for r in (estimate.removed if estimate is not None and changes_size else ())),
    )


def _rollback_view(candidate: RollbackCandidate) -> RollbackView:
    return RollbackView(
        revision=candidate.revision,
        image=candidate.image,
        size=human_bytes(candidate.size_bytes) if candidate.size_bytes is not None else None,
        healthy=candidate.healthy,
        recommended=candidate.recommended,
        undo_command=candidate.undo_command or None,
        live_from=stamp(candidate.live_from) if candidate.live_from else None,
        live_until=stamp(candidate.live_until) if candidate.live_until else None,
    )


def _ref_key(ref: str) -> int:
    return int(ref[1:])
