"""The gate's rules: pass or fail a candidate image against the image it replaces, and the cluster.

Three reasons fail it, each with the evidence a reviewer needs to act on it:

- `image-growth`: the image grew by at least `max_growth` times AND `min_growth_bytes` (both, so a
  10 MB image doubling and a 3 GB image gaining 100 MB pass); evidence: the culprit layers. Both sizes
  are in one measure (`bot.gate.sizes`): uncompressed when both images have it, else compressed; when
  they have none in common the decision is `undecided`, never a ratio of a compressed size to an
  uncompressed one.
- `new-critical-finding`: the image rules (bot/images/rules.py) found a secret, a VCS directory or a
  build toolchain above `toolchain_min_bytes` that the reference does not have. A finding the
  reference already ships is an old debt, not this change's. A layer whose contents were not read (a
  registry reader out of its byte budget) and that the reference does not ship makes this rule
  `undecided`: the gate cannot vouch for what it did not see. Growth and pull pressure need only sizes.
- `pull-pressure`: the replicas at the HPA's max, spread over the nodes that can receive them, each pull
  the image where it is not stored yet; fail when that pushes a node's imagefs past the kubelet's
  image-GC high threshold (`--image-gc-high-threshold`, 85 %) or the imagefs eviction threshold
  (`imagefs.available<15%`). Every pulling pod is counted on its node: that is what fills a disk when
  the image GC deletes the image between pulls, as in the outage Coroner was built around.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.domain import Finding
from bot.gate.pressure import ClusterPressure, NodeImageFs
from bot.gate.sizes import COMPRESSED, UNCOMPRESSED, Measure, common_measure, image_bytes, known_measures, layer_bytes
from bot.images.autopsy import ImageReport, LayerReport
from bot.units import human_bytes

IMAGE_GROWTH = "image-growth"
NEW_CRITICAL_FINDING = "new-critical-finding"
PULL_PRESSURE = "pull-pressure"
REASON_CODES = (IMAGE_GROWTH, NEW_CRITICAL_FINDING, PULL_PRESSURE)

# The image rules whose findings are critical at the gate, and the evidence field naming what they found
# (so that the same secret or the same .git in both images is recognised as already there).
CRITICAL_RULES: Mapping[str, str] = {
    "secret-file": "path",
    "secret-in-history": "names",
    "vcs-directory": "paths",
    "build-toolchain": "paths",
}
CULPRIT_LAYERS = 3
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class GatePolicy:
    max_growth: float = 1.5
    min_growth_bytes: int = 100 * 1000 * 1000
    toolchain_min_bytes: int = 50 * 1000 * 1000  # a build toolchain above this is a critical finding
    image_gc_high_percent: int = 85  # kubelet --image-gc-high-threshold default
    imagefs_available_percent: int = 15  # kubelet eviction imagefs.available<15% default


@dataclass(frozen=True)
class GateReason:
    code: str  # "image-growth" | "new-critical-finding" | "pull-pressure"
    message: str
    evidence: Mapping[str, Any]
    line: int | None = None  # the Dockerfile line to annotate (`--format github`)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "line": self.line, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class GateDecision:
    """`fail` when a reason fails it; else `undecided` when a rule could not be applied (`undecided` says
    which and why: the gate does not pass what it could not compare); else `pass`."""

    verdict: Literal["pass", "fail", "undecided"]
    reasons: tuple[GateReason, ...]
    candidate: str
    reference: str | None
    notes: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()
    size_measure: Measure | None = None  # the measure growth was compared in; None: not compared

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "candidate": self.candidate,
            "reference": self.reference,
            "size_measure": self.size_measure,
            "reasons": [r.to_json() for r in self.reasons],
            "undecided": list(self.undecided),
            "notes": list(self.notes),
        }


def decide(candidate: ImageReport, reference: ImageReport | None, *, pressure: ClusterPressure | None = None,
           policy: GatePolicy = GatePolicy()) -> GateDecision:
    """Judge `candidate` against `reference` (the image it replaces) and, given, the cluster. Pure."""
    notes: list[str] = []
    reasons: list[GateReason] = []
    undecided: list[str] = []
    measure: Measure | None = None
    if reference is None:
        notes.append("no reference image: growth not checked, every critical finding counts as new")
    else:
        measure = common_measure((candidate, reference))
        if measure is None:
            undecided.append(f"{IMAGE_GROWTH}: the two images' sizes are in different measures ("
                             f"{known_measures(candidate)}; {known_measures(reference)}), and a compressed size "
                             "is not compared with an uncompressed one")
        else:
            growth = _growth(candidate, reference, policy, measure, notes)
            if growth is not None:
                reasons.append(growth)
    reasons += _new_critical_findings(candidate, reference, policy)
    unseen = _unread_layers(candidate, reference, notes)
    if unseen:
        undecided.append(unseen)
    if pressure is not None:
        notes += pressure.notes
        reasons += _pull_pressure(candidate, pressure, policy, notes)
    return GateDecision(
        verdict="fail" if reasons else ("undecided" if undecided else "pass"),
        reasons=tuple(reasons),
        candidate=candidate.ref,
        reference=reference.ref if reference is not None else None,
        notes=tuple(notes),
        undecided=tuple(undecided),
        size_measure=measure,
    )


def _unread_layers(candidate: ImageReport, reference: ImageReport | None, notes: list[str]) -> str | None:
    """Why `new-critical-finding` cannot be decided, or None. The file rules (secret-file, vcs-directory,
    build-toolchain) saw only the layers read; `secret-in-history` reads the config, all of it. An unread
    layer the reference ships too (same digest) holds nothing new: whatever is in it is old debt."""
    unread = [layer for layer in candidate.layers if not layer.contents_read]
    shipped = {layer.digest for layer in reference.layers} if reference is not None else set()
    unseen = [layer for layer in unread if layer.digest not in shipped]
    old = [layer for layer in unread if layer.digest in shipped]
    if old:
        verb, it = ("were", "them") if len(old) > 1 else ("was", "it")
        notes.append(f"{_layer_list(old, named=False)} of {candidate.ref} {verb} not read: the reference ships "
                     f"{it} too, so {it} hold{'' if len(old) > 1 else 's'} no new critical finding")
    if not unseen:
        return None
    verb, it = ("were", "them") if len(unseen) > 1 else ("was", "it")
    shipped_too = f", and the reference does not ship {it}" if reference is not None else ""
    return (f"{NEW_CRITICAL_FINDING}: {_layer_list(unseen)} of {candidate.ref} {verb} not read{shipped_too}: "
            f"a secret file, a VCS directory or a build toolchain in {it} cannot be ruled out")


def _layer_list(layers: Sequence[LayerReport], *, named: bool = True) -> str:
    """`layer 2 (RUN make)`, `layers 2 (RUN make) and 3 (COPY . /app)`; without `named`, the indexes only."""
    items = [f"{layer.index} ({_short(layer.instruction, 40)})" if named else str(layer.index) for layer in layers]
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"layer{'s' if len(items) > 1 else ''} {listed}"


def _layer_json(layer: LayerReport, measure: Measure = UNCOMPRESSED) -> dict[str, Any]:
    """`bytes` in `measure` (the reason's `size_measure`); a layer without that figure says the reader's."""
    size = layer_bytes(layer, measure)
    return {
        "index": layer.index,
        "instruction": layer.instruction,
        "bytes": size if size is not None else layer.size_bytes,
        "line": layer.line,
        "top_paths": [p.to_json() for p in layer.top_paths[:3]],
    }


def _culprits(candidate: ImageReport, reference: ImageReport, measure: Measure) -> list[tuple[LayerReport, int]]:
    """The candidate's largest layers the reference does not have (by digest), largest first, with their
    size in `measure`."""
    known = {layer.digest for layer in reference.layers}
    new = [(layer, layer_bytes(layer, measure) or 0) for layer in candidate.layers if layer.digest not in known]
    new = [(layer, size) for layer, size in new if size > 0]
    return sorted(new, key=lambda pair: (-pair[1], pair[0].index))[:CULPRIT_LAYERS]


def _growth(candidate: ImageReport, reference: ImageReport, policy: GatePolicy, measure: Measure,
            notes: list[str]) -> GateReason | None:
    size, before = image_bytes(candidate, measure) or 0, image_bytes(reference, measure) or 0
    if measure == COMPRESSED:
        unread = [r.ref for r in (candidate, reference) if image_bytes(r, UNCOMPRESSED) is None]
        notes.append(f"growth compared on compressed sizes (the registry's blobs): the layer contents of "
                     f"{' and '.join(unread)} were not read, so their uncompressed size is not known")
    grew = size - before
    factor = size / before if before else math.inf
    if grew < policy.min_growth_bytes or factor < policy.max_growth:
        return None
    culprits = _culprits(candidate, reference, measure)
    shown = "; ".join(f"layer {c.index} ({_short(c.instruction)}) {human_bytes(b)}" for c, b in culprits)
    ratio = f"{factor:.1f}x" if before else "from nothing"
    return GateReason(
        code=IMAGE_GROWTH,
        message=f"{human_bytes(size)} against {human_bytes(before)} {measure} ({ratio}, +{human_bytes(grew)})"
                + (f": {shown}" if shown else ""),
        evidence={
            "size_measure": measure,
            "bytes": size,
            "reference_bytes": before,
            "growth_bytes": grew,
            "growth_factor": round(factor, 2) if before else None,
            "max_growth": policy.max_growth,
            "min_growth_bytes": policy.min_growth_bytes,
            "layers": [_layer_json(c, measure) for c, _ in culprits],
        },
        line=next((c.line for c, _ in culprits if c.line is not None), None),
    )


def _identity(finding: Finding) -> set[str]:
    value = finding.evidence.get(CRITICAL_RULES[finding.rule])
    if isinstance(value, str):
        return {value}
    if isinstance(value, Sequence):
        return {str(v) for v in value}
    return set()


def _is_critical(finding: Finding, policy: GatePolicy) -> bool:
    if finding.rule not in CRITICAL_RULES:
        return False
    return finding.rule != "build-toolchain" or int(finding.evidence.get("bytes") or 0) >= policy.toolchain_min_bytes


def _in_a_layer(finding: Finding) -> bool:
    """A secret set in the image config (ENV) is in no layer: its finding names the last one for want of
    better, and the gate would point at the wrong Dockerfile line."""
    return finding.rule != "secret-in-history" or "history" in finding.evidence


def _new_critical_findings(candidate: ImageReport, reference: ImageReport | None,
                           policy: GatePolicy) -> list[GateReason]:
    known: dict[str, set[str]] = {}
    for finding in reference.findings if reference is not None else ():
        if finding.rule in CRITICAL_RULES:
            known.setdefault(finding.rule, set()).update(_identity(finding))
    layers = {layer.index: layer for layer in candidate.layers}
    reasons = []
    for finding in candidate.findings:
        if not _is_critical(finding, policy):
            continue
        what = _identity(finding)
        new = sorted(what - known.get(finding.rule, set()))
        if what and not new:
            continue  # the reference ships it too
        index = finding.evidence.get("layer")
        layer = layers.get(index) if isinstance(index, int) and _in_a_layer(finding) else None
        line = finding.evidence.get("line") if layer is not None else None
        reasons.append(GateReason(
            code=NEW_CRITICAL_FINDING,
            message=f"{finding.rule}: {finding.title}",
            evidence={
                "rule": finding.rule,
                "severity": finding.severity.value,
                "new": new,
                "bytes": int(finding.evidence.get("bytes") or 0),
                "layers": [_layer_json(layer)] if layer is not None else [],
                "remediation": finding.remediation,
            },
            line=line if isinstance(line, int) else (layer.line if layer is not None else None),
        ))
    return reasons


@dataclass(frozen=True)
class _Landing:
    node: NodeImageFs
    pods: int
    used_after: int
    crosses: tuple[str, ...]  # "image-gc-high", "imagefs-eviction"


def _spread(pods: int, nodes: Sequence[NodeImageFs]) -> list[tuple[NodeImageFs, int]]:
    """`pods` spread evenly, as the scheduler's spreading does; the remainder goes to the fullest nodes
    first (the conservative guess)."""
    ordered = sorted(nodes, key=lambda n: (n.free_bytes, n.node))
    base, extra = divmod(pods, len(ordered))
    return [(node, base + (1 if i < extra else 0)) for i, node in enumerate(ordered)]


def _pull_pressure(candidate: ImageReport, pressure: ClusterPressure, policy: GatePolicy,
                   notes: list[str]) -> list[GateReason]:
    # The nodes store the image unpacked: charge them that. Without it (contents not read), the compressed
    # size is a lower bound, and said so. The registry serves the compressed blobs.
    measure: Measure = UNCOMPRESSED
    size = pressure.image_bytes or image_bytes(candidate, UNCOMPRESSED)
    if size is None:
        measure, size = COMPRESSED, image_bytes(candidate, COMPRESSED) or candidate.totals.size_bytes
        notes.append(f"pull pressure on the candidate's compressed size, a lower bound of what the nodes store: "
                     f"the layer contents of {candidate.ref} were not read")
    compressed = image_bytes(candidate, COMPRESSED)
    receiving = [n for n in pressure.nodes if n.capacity_bytes > 0]  # no capacity, no percentages
    pulling_nodes = [n for n in receiving if not n.has_image]
    if not receiving or not pulling_nodes or pressure.max_replicas <= 0 or size <= 0:
        notes.append(f"pull pressure: none ({len(receiving)} receiving nodes, {len(pulling_nodes)} without the "
                     f"image, {pressure.max_replicas} replicas at most)")
        return []
    # replicas x the fraction of nodes without the image, rounded up, in integers (no float edge)
    pods = -(-pressure.max_replicas * len(pulling_nodes) // len(receiving))
    landings = []
    for node, count in _spread(pods, pulling_nodes):
        after = node.used_bytes + count * size
        crosses = []
        if after * 100 >= policy.image_gc_high_percent * node.capacity_bytes:
            crosses.append("image-gc-high")
        if (node.capacity_bytes - after) * 100 < policy.imagefs_available_percent * node.capacity_bytes:
            crosses.append("imagefs-eviction")
        landings.append(_Landing(node, count, after, tuple(crosses)))
    over = [landing for landing in landings if landing.crosses and landing.pods > 0]
    total = pods * size
    if not over:
        notes.append(f"pull pressure: {pods} pods x {human_bytes(size)} ({human_bytes(total)}) stay under the "
                     f"thresholds on the {len(pulling_nodes)} nodes without the image")
        return []
    over_pods = sum(landing.pods for landing in over)
    free = sum(landing.node.free_bytes for landing in over)
    thresholds = sorted({c for landing in over for c in landing.crosses})
    past = " and ".join(
        {"image-gc-high": f"the image-GC high threshold ({policy.image_gc_high_percent}%)",
         "imagefs-eviction": f"the imagefs eviction threshold (imagefs.available<{policy.imagefs_available_percent}%)"}[c]
        for c in thresholds
    )
    names = ", ".join(landing.node.node for landing in over[:5]) + (", ..." if len(over) > 5 else "")
    message = (
        f"{over_pods} pods × {human_bytes(size)} against the free imagefs on the {_count(len(over))} "
        f"node{'s' if len(over) != 1 else ''} ({human_bytes(free)} free: {names}) would push them past {past}; "
        f"{pressure.max_replicas} replicas at most, {len(pulling_nodes)} of {len(receiving)} nodes without "
        f"the image: {human_bytes(total)} {measure} to store"
        + (f", {human_bytes(pods * compressed)} compressed to pull" if compressed is not None else "")
    )
    weighed = [(layer, layer_bytes(layer, measure) or 0) for layer in candidate.layers]
    heaviest = [layer for layer, b in sorted(weighed, key=lambda pair: (-pair[1], pair[0].index)) if b > 0]
    heaviest = heaviest[:CULPRIT_LAYERS]
    return [GateReason(
        code=PULL_PRESSURE,
        message=message,
        evidence={
            "workload": pressure.workload,
            "max_replicas": pressure.max_replicas,
            "size_measure": measure,
            "image_bytes": size,
            "nodes_receiving": len(receiving),
            "nodes_without_image": len(pulling_nodes),
            "pods_pulling": pods,
            "bytes": total,
            "compressed_bytes": pods * compressed if compressed is not None else None,
            "source": pressure.source,
            "thresholds": {"image_gc_high_percent": policy.image_gc_high_percent,
                           "imagefs_available_percent": policy.imagefs_available_percent},
            "nodes": [
                {**landing.node.to_json(), "pods": landing.pods, "used_bytes_after": landing.used_after,
                 "used_percent_after": round(100 * landing.used_after / landing.node.capacity_bytes, 1),
                 "crosses": list(landing.crosses)}
                for landing in over
            ],
            "layers": [_layer_json(layer, measure) for layer in heaviest],  # what every pull carries
        },
        line=next((layer.line for layer in heaviest if layer.line is not None), None),
    )]


def _count(n: int) -> str:
    return _WORDS[n] if n < len(_WORDS) else str(n)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
