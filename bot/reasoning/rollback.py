"""Roll back only when the change is to blame (issue 9, part 1).

The current revision is implicated when
- its pods fail by themselves (crash loop, OOM kill at its own limit, pull or config error, failing probe)
  where the previous revision's did not, and the failures began within `window_hours` of its rollout; or
- its image grew (`image-size-regression`) and what a bigger image does followed its rollout within that
  window: disks filled with images, slow pulls, a pull storm, registry errors.

It is not implicated when its pods fail only through node-level causes (evictions, unschedulable pods,
NotReady nodes, the node's OOM killer), when the previous revision failed the same way, or when it had
been live long before the symptoms began. Only an implicated revision with a healthy earlier revision to
go back to gives `recommended=True`; every other outcome says why not, in one sentence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.checks.facts import human_duration
from bot.domain import NO_ROLLBACK_DECISION, Finding, RollbackCandidate, RollbackDecision, Severity
from bot.reasoning.evidence import Implication, blast, counts, every, first, growth_ratio, on_service, when
from bot.units import plural

# The finding whose evidence says which failure kind implicates the revision.
FAILURE_RULE = {
    "crash-loop": "crashloop",
    "oom-killed": "crashloop",
    "pull-error": "image-pull-failing",
    "config-error": "pods-not-ready",
    "probe-failure": "pods-not-ready",
    "fits-no-node": "pods-not-ready",
}
FAILURE_WORDS = {
    "crash-loop": "crash-looping",
    "oom-killed": "OOM-killed at their memory limit",
    "pull-error": "failing to pull their image",
    "config-error": "failing on their config",
    "probe-failure": "failing their probes",
    "fits-no-node": "requesting more than any node can hold",
    "evicted": "evicted",
    "unschedulable": "unschedulable",
    "node-not-ready": "on NotReady nodes",
    "system-oom": "killed by the node's OOM killer",
    "registry-error": "failing pulls on registry errors",
    "sandbox-error": "without a pod sandbox (the node's runtime or network)",
    "registry-auth": "refused by the registry",
}
REGISTRY_FAILURES = ("registry-error", "registry-auth")
# What a bigger image does to a cluster, as findings.
SIZE_SYMPTOMS = ("pull-pressure", "image-pull-slow", "registry-errors")


def decide(findings: Sequence[Finding], candidates: Sequence[RollbackCandidate]) -> RollbackDecision:
    fact = first(findings, "rollback-candidate")
    imp = Implication.of(fact)
    if imp is None:
        if not candidates:
            return RollbackDecision(False, None, "no earlier revision to roll back to")
        return NO_ROLLBACK_DECISION
    rev = imp.current_revision
    implicated, why = _implicated(findings, imp)
    if not implicated:
        return RollbackDecision(False, None, why or _not_implicated(findings, imp))
    target = next((c for c in candidates if c.healthy), None)
    if target is None:
        return RollbackDecision(
            False, None, f"revision {rev} is to blame ({why}), but no earlier revision was healthy to go back to",
            implicated_by=tuple(implicated),
        )
    return RollbackDecision(True, target.revision, f"{why}; roll back to revision {target.revision}",
                            implicated_by=tuple(implicated))


def _implicated(findings: Sequence[Finding], imp: Implication) -> tuple[list[str], str]:
    """The rules that implicate the revision and the sentence that says so; or no rules and, when the
    revision's own failures were weighed and dismissed, the sentence that says why."""
    rev, prev = imp.current_revision, imp.previous_revision
    rules: list[str] = []
    reasons: list[str] = []
    dismissed = ""
    new = {k: n for k, n in imp.own_failures.items() if k not in imp.previous_failures}
    same = sorted(k for k in imp.own_failures if k in imp.previous_failures)
    if new:
        first_bad = imp.failed_between[0] if imp.failed_between else rev
        late = _late(imp, imp.failing_since, since=imp.trouble_rolled_out_at)
        if late is not None:
            dismissed = (f"revision {first_bad} had been live {late} before its pods began to fail "
                         f"({', '.join(sorted(new))}): something other than the rollout changed")
        else:
            kinds = sorted(new, key=lambda k: -new[k])
            for kind in kinds:
                rule = FAILURE_RULE[kind]
                if rule not in rules and first(findings, rule) is not None:
                    rules.append(rule)
            what = " and ".join(f"{new[k]} {FAILURE_WORDS[k]}" for k in kinds)
            if arch := _platform_mismatch(findings, rules):
                what += f" ({arch})"
            where = f", where revision {prev}'s did not" if prev is not None else ""
            if imp.failed_between:
                word = "revisions" if len(imp.failed_between) > 1 else "revision"
                where += f" ({word} {_and(imp.failed_between)} after it failed too)"
            text = f"pods of revision {rev}: {what}{where}"
            changed = sorted({c for k in kinds for c in imp.explained_by.get(k, [])})
            if changed:
                text += f", and it changed {', '.join(_change_detail(imp, c) for c in changed)}"
            reasons.append(text)
            if not rules:
                rules.append("rollback-candidate")
    elif same:
        dismissed = (f"revision {prev} failed the same way ({', '.join(same)}) while it was live: rolling "
                     "back would not help")
    noisy = first(findings, "noisy-neighbour")
    limits = [c for c in imp.changes if c.get("what") == "resources"]
    if noisy is not None and noisy.evidence.get("is_service") and limits and _pressure_followed(findings, imp):
        # The revision changed its resources and now crowds its nodes: the change explains the pressure.
        rules.append("noisy-neighbour")
        reasons.append(f"revision {rev} changed {limits[0].get('detail')} and now takes most of its nodes' "
                       f"{noisy.evidence.get('resource', 'memory')}")
    growth = first(findings, "image-size-regression")
    if growth is not None and _size_symptoms(findings, imp):
        rules.append("image-size-regression")
        ev = growth.evidence
        reasons.insert(0, f"revision {rev}'s image is {growth_ratio(ev)}× revision {ev.get('previous_revision')}'s and "
                       f"{_size_effects(findings)} followed its rollout")
    return rules, "; ".join(reasons) if rules else dismissed


def _platform_mismatch(findings: Sequence[Finding], rules: Sequence[str]) -> str | None:
    """"its image has no linux/amd64 variant" or "its image is linux/arm64, the nodes are linux/amd64" when
    an implicating finding found the image built for other platforms than the nodes': the evidence that
    decides, so the reason says it."""
    for rule in rules:
        f = first(findings, rule)
        if f is None:
            continue
        if missing := f.evidence.get("missing_platform"):
            return f"its image has no {missing} variant"
        if built := f.evidence.get("image_platform"):
            nodes = ", ".join(str(p) for p in f.evidence.get("node_platforms") or ()) or "another platform"
            return f"its image is {built}, the nodes are {nodes}"
    return None


def _size_symptoms(findings: Sequence[Finding], imp: Implication) -> bool:
    """Whether what a bigger image does (disks full of images, slow pulls, a pull storm) is happening, and
    began after the rollout, within the window."""
    present = [r for r in SIZE_SYMPTOMS if first(findings, r) is not None] + [
        "node-disk-high" for f in every(findings, "node-disk-high") if _images_fill(f)
    ]
    return bool(present) and _pressure_followed(findings, imp, condition="DiskPressure")


def _pressure_followed(findings: Sequence[Finding], imp: Implication, *, condition: str | None = None) -> bool:
    """Whether the nodes' trouble (pressure of `condition`, or any, and NotReady) began after the rollout,
    within the window; true when its onset is not known."""
    onsets = [
        t for f in every(findings, "node-pressure") + every(findings, "node-not-ready")
        if (condition is None or f.evidence.get("condition", condition) == condition)
        and (t := when(f.evidence.get("since")))
    ]
    if not onsets or imp.rolled_out_at is None:
        return True
    onset = min(onsets)
    return onset >= imp.rolled_out_at and _late(imp, onset) is None


def _images_fill(finding: Finding) -> bool:
    """Whether node-disk-high found images filling the disk (not merely present: unknown is not images)."""
    return finding.evidence.get("attribution") == "images"


def _size_effects(findings: Sequence[Finding]) -> str:
    effects = []
    if any(_images_fill(f) for f in every(findings, "node-disk-high")):
        effects.append("disks full of images")
    if first(findings, "pull-pressure") is not None or first(findings, "image-pull-slow") is not None:
        effects.append("slow, heavy pulls")
    if first(findings, "registry-errors") is not None:
        effects.append("registry errors")
    return ", ".join(effects) or "the pulls"


def _and(revisions: Sequence[int]) -> str:
    return ", ".join(map(str, revisions[:-1])) + (" and " if len(revisions) > 1 else "") + str(revisions[-1])


def _late(imp: Implication, onset: datetime | None, *, since: datetime | None = None) -> str | None:
    """How long the revision (or the first of a run of bad ones, `since`) had been live at `onset`, when
    that is beyond the plausible window."""
    rolled_out = since or imp.rolled_out_at
    if onset is None or rolled_out is None:
        return None
    lag = onset - rolled_out
    return human_duration(lag.total_seconds()) if lag > timedelta(hours=imp.window_hours) else None


def _not_implicated(findings: Sequence[Finding], imp: Implication) -> str:
    rev = imp.current_revision
    # A restart (`kubectl rollout restart`, an annotation) changes no container: undoing it changes nothing.
    restart = f" (a restart: its containers are revision {imp.previous_revision}'s)" \
        if imp.restart_only and imp.previous_revision is not None else ""
    live = f"revision {rev}{restart} has been live {human_duration(imp.live_seconds)}" \
        if imp.live_seconds is not None else f"revision {rev}{restart} is live"
    node_level = imp.node_level_failures
    noisy = first(findings, "noisy-neighbour")
    if noisy is not None and noisy.evidence.get("is_service"):
        resource = noisy.evidence.get("resource", "memory")
        crowds = (f"takes most of its nodes' {resource}" if noisy.evidence.get("used_bytes")
                  else "is the only workload without one on its pressured nodes")
        return f"{live}; the service itself has no {resource} limit and {crowds}: a limit fixes that, a rollback does not"
    if node_level and set(node_level) <= set(REGISTRY_FAILURES):
        return _registry_side(findings, imp, live)
    if node_level:
        what = ", ".join(f"{n} {FAILURE_WORDS.get(k, k)}" for k, n in sorted(node_level.items(), key=lambda kv: -kv[1]))
        if imp.previous_revision is not None and any(k in imp.previous_failures for k in node_level):
            # Mid-rollout, the old pods on the same nodes fail alike: the timing of the rollout is a coincidence.
            what += f", as revision {imp.previous_revision}'s pods do there"
        nodes = blast(findings, "nodes")
        if nodes is not None and nodes.evidence.get("other_pods"):
            ev = nodes.evidence
            return (f"{live}; its pods fail only for reasons outside it ({what}), and the same nodes' trouble also "
                    f"hit {plural(int(ev['other_pods']), 'pod')} of "
                    f"{plural(int(ev.get('other_workloads') or 0), 'other workload')}")
        return f"{live}; its pods fail only for reasons outside it ({what}), not by themselves"
    if not any(on_service(f) for f in findings):
        ready = f"{imp.pods_ready}/{imp.replicas} pods ready" if imp.replicas is not None else "its pods are ready"
        return f"{live} and is healthy ({ready}): nothing points at it"
    return f"{live} and nothing points at it: its pods do not fail by themselves"


def _registry_side(findings: Sequence[Finding], imp: Implication, live: str) -> str:
    """The revision's pods fail only because the registry fails or refuses their pulls: its image pulled
    fine until then, and (when seen) other workloads' pulls fail on the same registry."""
    head = live
    if imp.failing_since is not None and imp.rolled_out_at is not None and imp.failing_since > imp.rolled_out_at:
        lag = human_duration((imp.failing_since - imp.rolled_out_at).total_seconds())
        head = f"revision {imp.current_revision} had been live {lag} when its pulls began to fail"
    failing = imp.node_level_failures
    what = ", ".join(f"{n} {FAILURE_WORDS[k]}" for k, n in sorted(failing.items(), key=lambda kv: -kv[1]))
    head += f"; its pods fail only on the registry's side ({what})"
    radius = blast(findings, "registry")
    if radius is None:
        return f"{head}, not on the image the revision names"
    ev = radius.evidence
    registry = ", ".join(str(h) for h in ev.get("registries") or ()) or "the registry"
    errors = counts(ev.get("errors"))
    said = ", ".join(sorted(errors, key=lambda e: -errors[e])[:2]) or "errors"
    verb = "refuses them" if "registry-auth" in failing else "fails them"
    others = int(ev.get("other_pods") or 0)
    if others:
        return (f"{head}: {registry} {verb} ({said}), and the pulls of {plural(others, 'pod')} of "
                f"{plural(int(ev.get('other_workloads') or 0), 'other workload')} too")
    return f"{head}: {registry} {verb} ({said}), not the image the revision names"


def _change_detail(imp: Implication, what: str) -> str:
    detail = next((c.get("detail") for c in imp.changes if c.get("what") == what and c.get("detail")), None)
    return str(detail) if detail else what


# --- applying the decision to what every sink reads -------------------------------------------------


def apply(
    decision: RollbackDecision, findings: Sequence[Finding], candidates: Sequence[RollbackCandidate]
) -> tuple[list[Finding], list[RollbackCandidate]]:
    """The candidates' `recommended` and the rollout's finding follow the decision: a finding says
    `rollback-candidate` (high) only when rolling back is recommended, else `rollback-not-indicated` (info)."""
    marked = [dataclasses.replace(c, recommended=decision.recommended and c.revision == decision.revision)
              for c in candidates]
    out = []
    for f in findings:
        if f.rule != "rollback-candidate":
            out.append(f)
        elif decision.recommended:
            out.append(dataclasses.replace(
                f, severity=Severity.HIGH, evidence={**f.evidence, "decision": decision.to_json()}))
        else:
            out.append(Finding(
                rule="rollback-not-indicated",
                severity=Severity.INFO,
                title=f"No rollback: {decision.reason}",
                evidence={k: v for k, v in f.evidence.items() if k in ("current_revision", "candidates", "implication")}
                | {"decision": decision.to_json()},
                check=f.check,
            ))
    return out, marked

