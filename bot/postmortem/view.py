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

from bot.domain import Finding, Incident, RollbackCandidate, Severity, TimelineEntry
from bot.postmortem.evidence import DockerfileFix, ImageSummary, LayerSummary
from bot.postmortem.markdown import Md, code, escape, fenced, inline
from bot.report import evidence_pairs, ordered_findings, ordered_timeline, stamp, utc
from bot.units import human_bytes

# Findings that explain why the image was big: the root cause of this class of outage.
ROOT_CAUSE_RULES = (
    "fat-layer",
    "vcs-directory",
    "host-dependencies",
    "data-files",
    "package-cache-left",
    "build-toolchain",
    "wasted-space",
    "size-regression",
    "image-size-regression",
)

# Contributing factors, grouped the way an SRE tells the story. Rule ids are the checks' own words.
FACTOR_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HPA pull amplification", ("hpa-scaling", "pull-pressure")),
    ("Disk pressure on nodes", ("node-disk-high", "node-pressure", "node-not-ready", "node-cordoned", "evictions")),
    ("Registry errors and image pulls", ("registry-errors", "image-pull-failing", "image-pull-slow")),
    ("Workload health", ("pods-not-ready", "crashloop", "no-memory-limit", "weak-probe")),
)
OTHER_FACTORS = "Other findings"

# What went badly, one sentence per rule that was seen; `{refs}` is filled with the finding references.
WENT_BADLY: tuple[tuple[str, str], ...] = (
    ("vcs-directory", "The `.git` directory was copied into the image: the build context had no `.dockerignore`"),
    ("host-dependencies", "A local virtualenv or `node_modules` was copied in from the build context"),
    ("data-files", "Test data files were shipped inside the image"),
    ("build-toolchain", "Build tools stayed in the runtime image"),
    ("package-cache-left", "Package manager caches were left in the layers"),
    ("image-size-regression", "The image grew sharply over the previous revision and nothing stopped the rollout"),
    ("size-regression", "The image grew sharply over the previous image and nothing stopped the build"),
    ("pull-pressure", "The HPA multiplied the image pulls while nodes were already short of disk"),
    ("hpa-scaling", "The HPA kept scaling up while new pods could not start"),
    ("registry-errors", "The registry answered errors under the pull load"),
    ("node-disk-high", "Node image filesystems filled up"),
    ("node-pressure", "Nodes reported pressure conditions"),
    ("evictions", "Pods were evicted"),
)

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
class FactorView:
    label: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True)
class Claim:
    """A sentence (Markdown, built here) and the evidence it rests on."""

    text: Md
    refs: tuple[str, ...] = ()


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
    severity_counts: tuple[tuple[str, int], ...]  # only severities present, most severe first
    timeline: tuple[TimelineLine, ...]
    root_cause: tuple[FindingView, ...]
    image: ImageView | None
    factors: tuple[FactorView, ...]
    affected_nodes: tuple[str, ...]
    went_well: tuple[Claim, ...]
    went_badly: tuple[Claim, ...]
    action_items: tuple[Claim, ...]
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
    gaps: Sequence[str] = (),
) -> PostmortemView:
    """Assemble the view. Pure and deterministic: input order does not change the output."""
    ordered = ordered_findings(findings)
    finding_views = tuple(_finding_view(i + 1, f) for i, f in enumerate(ordered))
    raw_by_ref = {fv.ref: f for fv, f in zip(finding_views, ordered, strict=True)}
    by_rule: dict[str, list[FindingView]] = {}
    for fv in finding_views:
        by_rule.setdefault(fv.rule, []).append(fv)

    root_cause = tuple(fv for fv in finding_views if fv.rule in ROOT_CAUSE_RULES)
    candidates = sorted(rollback_candidates, key=lambda c: (not c.recommended, not c.healthy, -c.revision))
    recommended = next((c for c in candidates if c.recommended), None)
    image_view = _image_view(image, raw_by_ref, recommended) if image else None

    return PostmortemView(
        incident=_incident_view(incident),
        severity_counts=tuple(
            (s.value, n) for s in Severity if (n := sum(1 for fv in finding_views if fv.severity == s.value))
        ),
        timeline=tuple(TimelineLine(stamp(e.at), e.source, e.text) for e in ordered_timeline(timeline)),
        root_cause=root_cause,
        image=image_view,
        factors=_factors(finding_views),
        affected_nodes=_affected_nodes(findings),
        went_well=_went_well(image_view, recommended, dockerfile_fix, timeline),
        went_badly=_went_badly(by_rule, incident),
        action_items=_action_items(finding_views, dockerfile_fix, root_cause, recommended),
        fix=_fix_view(dockerfile_fix) if dockerfile_fix else None,
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
        if finding.rule not in ROOT_CAUSE_RULES:
            continue  # runs-as-root or a secret names a layer too, but does not make it big
        evidence = finding.evidence
        named = [evidence.get(k) for k in ("layer", "layer_index")]
        digests = [evidence.get(k) for k in ("layer_digest", "digest")]
        if layer.index in named or (layer.digest and layer.digest in digests):
            refs.append(ref)
    return tuple(refs)


def _image_view(
    image: ImageSummary, findings: dict[str, Finding], recommended: RollbackCandidate | None
) -> ImageView:
    total = image.size_bytes
    layers = []
    for layer in sorted(image.layers, key=lambda la: la.index):
        refs = _layer_refs(layer, findings)
        big = total > 0 and layer.size_bytes >= CULPRIT_SHARE * total and layer.size_bytes >= CULPRIT_MIN_BYTES
        paths = sorted(layer.top_paths, key=lambda p: (-p.size_bytes, p.path))[:TOP_PATHS]
        layers.append(
            LayerView(
                index=layer.index,
                instruction=_shorten(layer.instruction, INSTRUCTION_MAX),
                instruction_full=layer.instruction,
                size=human_bytes(layer.size_bytes),
                size_bytes=layer.size_bytes,
                share=f"{layer.size_bytes / total * 100:.0f}%" if total else "0%",
                culprit=big or bool(refs),
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


def _factors(findings: Sequence[FindingView]) -> tuple[FactorView, ...]:
    grouped = {rule for _, rules in FACTOR_GROUPS for rule in rules}
    factors = []
    for label, rules in FACTOR_GROUPS:
        members = tuple(fv for fv in findings if fv.rule in rules)
        if members:
            factors.append(FactorView(label, members))
    others = tuple(
        fv
        for fv in findings
        if fv.rule not in grouped and fv.rule not in ROOT_CAUSE_RULES and fv.rule != "rollback-candidate"
        and fv.severity != Severity.INFO.value
    )
    if others:
        factors.append(FactorView(OTHER_FACTORS, others))
    return tuple(factors)


def _affected_nodes(findings: Sequence[Finding]) -> tuple[str, ...]:
    nodes: set[str] = set()
    for finding in findings:
        for key in ("node", "nodes"):
            value = finding.evidence.get(key)
            if isinstance(value, str):
                nodes.add(value)
            elif isinstance(value, Mapping | list | tuple):  # a mapping counts per node: its keys
                nodes.update(str(v) for v in value)
    return tuple(sorted(nodes))


def _went_well(
    image: ImageView | None,
    recommended: RollbackCandidate | None,
    fix: DockerfileFix | None,
    timeline: Sequence[TimelineEntry],
) -> tuple[Claim, ...]:
    claims = []
    if recommended is not None and recommended.healthy:
        size = f", {human_bytes(recommended.size_bytes)}" if recommended.size_bytes is not None else ""
        claims.append(
            Claim(Md(f"A healthy earlier revision was there to roll back to: revision {recommended.revision} "
                     f"({code(recommended.image)}{size})"))
        )
    if image is not None and image.culprits:
        named = "; ".join(f"layer {la.index} {code(la.instruction)} {la.size}" for la in image.culprits)
        refs = tuple(sorted({r for la in image.culprits for r in la.refs}, key=_ref_key))
        claims.append(Claim(Md(f"The image history named the culprit layers: {named}"), refs))
    if fix is not None:
        claims.append(Claim(Md(f"A fix for {code(fix.path)} was drafted from the same evidence"), fix.rules))
    sources = sorted({e.source for e in timeline})
    if sources:
        claims.append(
            Claim(Md(f"The timeline was rebuilt from {len(sources)} source(s): {', '.join(code(s) for s in sources)}"))
        )
    return tuple(claims)


def _went_badly(by_rule: dict[str, list[FindingView]], incident: Incident) -> tuple[Claim, ...]:
    claims = []
    for rule, sentence in WENT_BADLY:
        if rule in by_rule:
            claims.append(Claim(_backticks_to_code(sentence), tuple(fv.ref for fv in by_rule[rule])))
    if incident.resolved_at is not None:
        took = duration_text(start=incident.created_at, end=incident.resolved_at)
        claims.append(
            Claim(Md(f"Recovery took {took}, from {stamp(incident.created_at)} to {stamp(incident.resolved_at)}"))
        )
    return tuple(claims)


def _action_items(
    findings: Sequence[FindingView],
    fix: DockerfileFix | None,
    root_cause: Sequence[FindingView],
    recommended: RollbackCandidate | None,
) -> tuple[Claim, ...]:
    items = []
    if fix is not None:
        items.append(Claim(Md(f"Merge the {code(fix.path)} fix below"), fix.rules))
    if root_cause:
        items.append(
            Claim(
                Md(f"Run {code('coroner lint')} on the Dockerfile in CI, so the next oversized image is stopped "
                   "before it merges"),
                tuple(fv.ref for fv in root_cause),
            )
        )
    # One item per distinct remediation, citing every finding that asked for it, in severity order.
    remediations: dict[str, list[str]] = {}
    for fv in findings:
        if fv.remediation and fv.rule != "rollback-candidate":
            remediations.setdefault(" ".join(fv.remediation.split()), []).append(fv.ref)
    for text, refs in remediations.items():
        items.append(Claim(inline(text), tuple(refs)))
    if recommended is not None and recommended.undo_command:
        items.append(
            Claim(Md(f"Keep revision {recommended.revision} available until the fixed image is live: "
                     f"{code(recommended.undo_command)}"))
        )
    return tuple(items)


def _fix_view(fix: DockerfileFix) -> FixView:
    return FixView(
        path=fix.path,
        diff_block=fenced(fix.diff, "diff"),
        notes=fix.notes,
        rules=fix.rules,
        dockerignore_path=fix.dockerignore_path,
        dockerignore_block=fenced(fix.dockerignore, "gitignore") if fix.dockerignore else None,
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


def _backticks_to_code(sentence: str) -> Md:
    """Sentences in the tables above are trusted Markdown with `code` spans; escape the rest."""
    parts = sentence.split("`")
    return Md("".join(code(p) if i % 2 else escape(p) for i, p in enumerate(parts)))


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
