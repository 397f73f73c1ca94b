"""Action items: at most ten, one per meaning, each with a priority (P0 prevent recurrence, P1 mitigate and
detect earlier, P2 hygiene), a kind (prevent, detect, mitigate), an owner to fill in, and the concrete
change (a diff, a command or a config).

Findings are grouped by what fixing them means (`THEMES`), not one item per finding: three full nodes and
the rollout's growth ask for the same change. What no theme claims and did not contribute to the incident
is lint hygiene, and goes into one grouped P2 item that points at the diff.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.dockerfile.catalog import RULES as DOCKERFILE_RULES
from bot.domain import Finding, RollbackDecision
from bot.postmortem.markdown import Md, code, inline, shorten

MAX_ITEMS = 10
OWNER = "owner to assign"
FIX_RULE = "dockerfile-fix"  # the finding that carries the proposed patch
QUOTE_MAX = 160  # a message quoted from the cluster (the scheduler, an exit message)


@dataclass(frozen=True)
class ActionItem:
    priority: str  # P0 | P1 | P2
    kind: str  # prevent | detect | mitigate
    title: Md
    change: Md  # the diff, command or config, as Markdown
    refs: tuple[str, ...] = ()
    owner: str = OWNER


@dataclass(frozen=True)
class Context:
    """What the themes read: finding refs by rule, the fix, the rollback decision, detection time."""

    refs_by_rule: dict[str, tuple[str, ...]]
    fix_path: str | None  # the Dockerfile the fix changes, when there is a fix
    fix_estimate: str | None  # "≈ 390 MB instead of 4.2 GB (estimate)"
    rollback: RollbackDecision
    undo_command: str | None
    detect_seconds: int | None
    service: str | None
    namespace: str | None
    # Whether the image is what broke (its growth or culprit layers are in the causal chain). When it is
    # not, the Dockerfile's findings are hygiene: the patch is offered, never as the incident's fix.
    image_is_cause: bool = True
    # The causal chain's trigger: its rule ids and its text ("revision 15 (args …)"), and whether it is the
    # service's own rollout. A trigger elsewhere (a neighbour workload) makes its own remediation the P0.
    trigger_rules: tuple[str, ...] = ()
    trigger_text: str | None = None
    rollout_is_trigger: bool = False
    node_conditions: tuple[str, ...] = ()  # MemoryPressure, DiskPressure, ... from the findings
    filesystems: tuple[str, ...] = ()  # nodefs, imagefs: the filesystems found full
    # The findings by rule, in reference order, for the themes whose change depends on their evidence (the
    # HPA at its maximum or scaling a failing change, how the containers exit, why pulls fail).
    findings: Mapping[str, tuple[Finding, ...]] = field(default_factory=dict)
    contributing: frozenset[str] = frozenset()  # rule ids the causal chain cites

    def first(self, rule: str) -> Finding | None:
        return next(iter(self.findings.get(rule, ())), None)

    @property
    def workload(self) -> str:
        return f"{self.namespace or 'NAMESPACE'}/{self.service or 'SERVICE'}"


@dataclass(frozen=True)
class Theme:
    rules: tuple[str, ...]
    build: Callable[[Context, tuple[str, ...]], ActionItem | None]
    # The rules of `rules` the theme answers for in this incident (default: every one present); a rule it
    # leaves is hygiene or another theme's.
    claims: Callable[[Context, tuple[str, ...]], tuple[str, ...]] | None = None


def _refs(ctx: Context, rules: Sequence[str]) -> tuple[str, ...]:
    refs = {r for rule in rules for r in ctx.refs_by_rule.get(rule, ())}
    return tuple(sorted(refs, key=lambda r: int(r[1:])))


# --- the themes -----------------------------------------------------------------------------------------

IMAGE_CULPRIT_RULES = ("build-toolchain", "build-tools-in-final-stage", "vcs-directory", "host-dependencies",
                       "data-files", "dockerignore-missing", "fat-layer", "package-cache-left", "wasted-space")
GROWTH_RULES = ("image-size-regression", "size-regression")


def _shrink(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    if ctx.fix_path is not None:
        estimate = f" Predicted size: {inline(ctx.fix_estimate)}." if ctx.fix_estimate else ""
        change = Md(f"Apply the patch in *Dockerfile fix* below ({code('git apply')}); its notes say what it "
                    f"leaves to a person.{estimate}")
        return ActionItem("P0", "prevent", Md(f"Remove the culprit layers from {code(ctx.fix_path)}"), change, refs)
    return ActionItem("P0", "prevent", Md("Remove the culprit layers from the image"),
                      Md(f"Run {code('coroner fix --write Dockerfile')} and review the patch"), refs)


def _gate(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    workload = f"{ctx.namespace or 'NAMESPACE'}/{ctx.service or 'SERVICE'}"
    command = f"coroner gate NEW_IMAGE --deployed {workload} --dockerfile {ctx.fix_path or 'Dockerfile'}"
    change = Md(f"In CI, after the build and before the push: {code(command)} (fails past 1.5× growth, on a "
                "secret, a VCS directory or a toolchain, or when the receiving nodes' disks would fill; see "
                f"{code('docs/gate.md')})")
    return ActionItem("P0", "prevent", Md("Gate the image in CI before it can roll out"), change, refs)


def _hpa_at_max(ctx: Context) -> Finding | None:
    return next((f for f in ctx.findings.get("hpa-scaling", ()) if f.evidence.get("at_max")), None)


def _autoscaler(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """The autoscaler multiplied pods that could not start (a failing change, a pull storm): slow it down.
    At its maximum under load the service's own change did not start: it needs room, not a brake."""
    at_max = _hpa_at_max(ctx)
    if "pull-pressure" in ctx.refs_by_rule or ctx.rollout_is_trigger or at_max is None:
        change = Md(code("behavior: {scaleUp: {policies: [{type: Pods, value: 4, periodSeconds: 60}], "
                         "stabilizationWindowSeconds: 120}}") + " in the HorizontalPodAutoscaler, so pods that "
                    "cannot start are not multiplied")
        return ActionItem("P1", "mitigate", Md("Limit the autoscaler's scale-up rate"), change, refs)
    return _capacity(ctx, refs, at_max)


def _oom(ctx: Context) -> Finding | None:
    """A crash loop whose containers the kernel kills at their memory limit."""
    return next((f for f in ctx.findings.get("crashloop", ())
                 if "OOMKilled" in (f.evidence.get("last_terminated_reasons") or {})), None)


def _node_memory_pressure(ctx: Context) -> bool:
    return "MemoryPressure" in ctx.node_conditions or any(
        f.evidence.get("resource") == "memory" for f in ctx.findings.get("noisy-neighbour", ()))


def _capacity(ctx: Context, refs: tuple[str, ...], hpa: Finding) -> ActionItem:
    """Load beyond what the HPA may add: raise its ceiling (and the memory limit the pods die at), after
    checking the nodes can take it."""
    name, top = hpa.evidence.get("hpa") or ctx.service or "HPA", hpa.evidence.get("max_replicas")
    change = (f"Raise {code('spec.maxReplicas')} of HPA {code(str(name))} (now {top}) to the peak load's need, "
              "once the nodes (or the cluster autoscaler) have room for the extra pods")
    oom = _oom(ctx) if not _node_memory_pressure(ctx) else None
    title = f"Give {code(ctx.workload)} room for its peak load: its HPA is at its maximum"
    if oom is not None:
        container = ", ".join(str(c) for c in _listed(oom.evidence.get("containers"))) or "its containers"
        change += (f"; raise {code('resources.limits.memory')} of {code(container)} above the working set the "
                   "pods reach under that load: they are OOMKilled at the limit")
        title += " and its pods die at their memory limit"
        refs = tuple(sorted({*refs, *ctx.refs_by_rule.get("crashloop", ())}, key=lambda r: int(r[1:])))
    in_cause = "hpa-scaling" in ctx.trigger_rules or "hpa-scaling" in ctx.contributing
    return ActionItem("P0" if in_cause else "P1", "prevent", Md(title), Md(change), refs)


def _listed(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return list(value)
    return [value] if value else []


# Why pulls fail, from the kubelet's message: the registry refusing the credentials, a reference that does
# not exist, or the registry itself failing (5xx, 429, timeouts) under load.
_PULL_AUTH = re.compile(r"\b(401|403)\b|unauthorized|denied|authentication required|forbidden", re.I)
_PULL_MISSING = re.compile(r"not ?found|manifest unknown|does not exist", re.I)


def pull_failure(ctx: Context) -> str | None:
    """auth | missing | None (the registry's own errors, or not said)."""
    messages = " ".join(str(f.evidence.get("message") or "") for f in ctx.findings.get("image-pull-failing", ()))
    if _PULL_AUTH.search(messages):
        return "auth"
    if _PULL_MISSING.search(messages):
        return "missing"
    return None


def _pulls(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    failure = pull_failure(ctx)
    storm = any(r in ctx.refs_by_rule for r in ("registry-errors", "image-pull-slow", "pull-pressure"))
    if storm:
        change = Md("A pull-through cache per node pool or zone, and a registry rate limit per client; then "
                    f"point the nodes at it ({code('CORONER_REGISTRY_MIRRORS')} reads the same mapping)")
        return ActionItem("P1", "mitigate", Md("Protect the registry from pull storms"), change, refs)
    if failure == "auth":
        change = Md("Find what stopped renewing the pull credentials (an expiring registry token, an "
                    f"{code('imagePullSecret')} or the nodes' credential provider), renew them on a schedule with "
                    "margin, and alert on pulls answered 401/403 in any namespace")
        in_cause = "image-pull-failing" in ctx.contributing or "image-pull-failing" in ctx.trigger_rules
        return ActionItem("P0" if in_cause else "P1", "prevent",
                          Md("Keep the registry's pull credentials valid, and page when they are refused"),
                          change, refs)
    if failure == "missing" and not ctx.rollout_is_trigger:
        change = Md(f"Resolve every image reference before it is deployed ({code('docker manifest inspect IMAGE')} "
                    "in CI), and deploy by digest")
        return ActionItem("P1", "prevent", Md("Check image references exist before they roll out"), change, refs)
    return None  # a missing image of the service's rollout is that rollout's fix (`_revision_fix`)


def _registry_radius_claims(ctx: Context, present: tuple[str, ...]) -> tuple[str, ...]:
    """The pulls item answers for a blast radius only when it is the registry's (the other workloads failing
    the same pulls): its advice is the pulls item's own, said twice otherwise. A node blast radius is not."""
    radius = ctx.findings.get("blast-radius", ())
    registry_only = bool(radius) and all(f.evidence.get("scope") == "registry" for f in radius)
    return tuple(r for r in present if r != "blast-radius" or registry_only)


# What each filesystem holds, for the alert's wording: a full nodefs is logs and emptyDir volumes, not images.
_FILESYSTEM_ALERT = {
    "imagefs": "the image filesystem above the kubelet's image GC high threshold",
    "nodefs": "the node's root filesystem (nodefs: logs, emptyDir volumes) above 85 % used",
}


def _condition(name: str) -> Md:
    return code(f'kube_node_status_condition{{condition="{name}",status="true"}} == 1')


def _node_alert(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """One alert per node condition the findings saw; disk also by the filesystem that filled. A node lost
    without pressure is paged on as NotReady (pressure alerts fire before a node goes NotReady of it)."""
    conditions = set(ctx.node_conditions)
    alerts, what = [], []
    if "MemoryPressure" in conditions:
        alerts.append(_condition("MemoryPressure") + " and on a node's memory working set above 90 % of allocatable")
        what.append("memory")
    if "DiskPressure" in conditions or ctx.filesystems:
        filesystems = [_FILESYSTEM_ALERT[f] for f in ("nodefs", "imagefs") if f in ctx.filesystems]
        alerts.append(_condition("DiskPressure") + ", and on "
                      + (" and on ".join(filesystems) if filesystems else _FILESYSTEM_ALERT["imagefs"]))
        what.append("disk")
    if "PIDPressure" in conditions:
        alerts.append(_condition("PIDPressure") + " and on a node's process count above 80 % of its pid_max")
        what.append("PID")
    if not alerts and "node-not-ready" in ctx.refs_by_rule:
        alerts.append(code('kube_node_status_condition{condition="Ready",status!="true"} == 1'))
        change = Md("Alert on " + alerts[0] + " for 2 min, with the node's name and the pods it runs")
        return ActionItem("P1", "detect", Md("Page when a node stops reporting Ready"), change, refs)
    if not alerts:
        if "evictions" not in ctx.refs_by_rule:
            return None
        change = Md("Alert on " + code('kube_pod_status_reason{reason="Evicted"} > 0') + " by namespace, for 2 min")
        return ActionItem("P1", "detect", Md("Page on evictions"), change, refs)
    change = Md("Alert on " + "; on ".join(alerts) + ", for 2 min, before the kubelet evicts pods or nodes go NotReady")
    return ActionItem("P1", "detect", Md(f"Page on node {' and '.join(what)} pressure"), change, refs)


def _pids(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    if "PIDPressure" not in ctx.node_conditions:
        return None
    change = Md(f"{code('podPidsLimit')} in the nodes' KubeletConfiguration (e.g. 4096), so one pod that forks "
                "without bound is stopped at its own limit instead of exhausting the node's PIDs")
    return ActionItem("P1", "prevent", Md("Cap the processes each pod may start"), change, refs)


def _spread(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """A node lost on its own (not of pressure, not of the service's change) took the service's pods on it:
    spread them, so one node is a small share."""
    if ctx.rollout_is_trigger or ctx.node_conditions or "node-not-ready" not in ctx.trigger_rules + tuple(
            ctx.contributing):
        return None
    change = Md(code("topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, "
                     "whenUnsatisfiable: ScheduleAnyway}]") + f" on {code(ctx.workload)}, and a PodDisruptionBudget "
                "so drains take one node's share at a time")
    return ActionItem("P1", "mitigate", Md("Spread the service's pods across nodes, so losing one costs a small share"),
                      change, refs)


def _placement(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """Pods the scheduler cannot place while no node is under pressure and no change of the service's is to
    blame: the cluster lacks room where the pods may run."""
    if ctx.rollout_is_trigger or ctx.node_conditions or "noisy-neighbour" in ctx.refs_by_rule:
        return None
    said = next((str(f.evidence["scheduler_message"]) for f in ctx.findings.get("pods-not-ready", ())
                 if f.evidence.get("scheduler_message")), None)
    if said is None:
        return None
    change = Md(f"The scheduler said: {inline(shorten(said, QUOTE_MAX))}. Let the cluster autoscaler add nodes to the pools "
                f"{code(ctx.workload)} may use (or raise their maximum), or size its requests to what it uses; "
                "tolerate a taint only where the pods belong")
    return ActionItem("P1", "mitigate", Md("Give the service's pods room to schedule"), change, refs)


def _revision_fix(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """The service's own rollout broke it without the image being the cause (a config, args or env change):
    fix that change before rolling forward again."""
    if not ctx.rollout_is_trigger or ctx.image_is_cause or not ctx.trigger_text:
        return None
    check = ("start the new pod template once in staging (or behind a readiness probe that fails the rollout) "
             "before it reaches production")
    if "image-pull-failing" in ctx.trigger_rules and pull_failure(ctx) == "missing":
        check = (f"resolve the image reference in CI before the rollout ({code('docker manifest inspect IMAGE')}), "
                 "and deploy by digest")
    change = Md(f"Correct what {inline(ctx.trigger_text)} changed, and {check}")
    return ActionItem("P0", "prevent", Md("Fix the change that broke the rollout before rolling forward"),
                      change, refs)


def _rollout_alert(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    if ctx.detect_seconds is None or ctx.detect_seconds < 10 * 60:
        return None  # detection was quick enough: nothing to learn here
    name = ctx.service or "SERVICE"
    alert = code(f'kube_deployment_status_replicas_unavailable{{deployment="{name}"}} > 0')
    if not ctx.rollout_is_trigger:
        # No rollout to watch: the symptom paged late, so page on the replicas themselves.
        return ActionItem("P1", "detect", Md("Page on the service's unavailable replicas before the SLO alert does"),
                          Md(f"Alert on {alert} for 5 min"), refs)
    change = Md(f"Alert on {alert} for 5 min after a rollout, and watch rollouts with "
                f"{code('kubectl rollout status --timeout')}")
    return ActionItem("P1", "detect", Md("Detect a failing rollout before the SLO alert does"),
                      change, refs)


def _rollback(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    if not ctx.rollback.recommended or ctx.undo_command is None:
        return None
    fixed = "the fixed image" if ctx.image_is_cause else "the corrected revision"
    change = Md(f"{code(ctx.undo_command)}; keep revision {ctx.rollback.revision} in the ReplicaSet history "
                f"({code('revisionHistoryLimit')}) until {fixed} is live")
    return ActionItem("P1", "mitigate", Md(f"Roll back first when a rollout is implicated: revision "
                                           f"{ctx.rollback.revision} was healthy"), change, refs)


def _secret(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    change = Md("Rotate the value, then inject it at run time (a Kubernetes Secret via "
                f"{code('env.valueFrom.secretKeyRef')}); remove it from the image config and history")
    return ActionItem("P1", "prevent", Md("Rotate the secret baked into the image"), change, refs)


def _crash(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """How the containers exit decides the item. A rollout's crash is that rollout's fix; an OOM kill under
    node memory pressure is the pressure's; at the HPA's maximum it is the capacity item's."""
    if ctx.rollout_is_trigger:
        return None
    oom = _oom(ctx)
    if oom is not None:
        if _node_memory_pressure(ctx) or _hpa_at_max(ctx) is not None:
            return None
        container = ", ".join(str(c) for c in _listed(oom.evidence.get("containers"))) or "the containers"
        change = Md(f"Raise {code('resources.limits.memory')} of {code(container)} in {code(ctx.workload)} above "
                    "the peak working set its metrics show (or find the leak that grows it)")
        in_cause = "crashloop" in ctx.contributing or "crashloop" in ctx.trigger_rules
        return ActionItem("P0" if in_cause else "P1", "prevent",
                          Md("Size the memory limit for what the service really uses: it is OOMKilled at it"),
                          change, refs)
    crash = ctx.first("crashloop")
    message = str(crash.evidence.get("exit_message") or "") if crash is not None else ""
    said = f"The containers exit with: {inline(shorten(message, QUOTE_MAX))}. " if message else ""
    change = Md(f"{said}Find what failed then (a dependency, a config or a secret) and have the process wait for "
                "it (retry with backoff, not ready meanwhile) instead of exiting; alert on the dependency itself")
    return ActionItem("P1", "mitigate", Md("Make the service ride out the failure it exits on"), change, refs)


# What a neighbour's limit looks like in its pod template, by what it fills.
_NEIGHBOUR_CHANGE = {
    "logs": "{limit} on its containers, and log rotation on the nodes: {rotation} in the KubeletConfiguration",
    "emptyDir": "{limit} on its containers and {size_limit} on its emptyDir volumes (a PVC if it must spool)",
    "writable layers": "{limit} on its containers, and its writes moved to a volume with {size_limit}",
}


def _neighbour(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """Another workload (or the service itself) took the node's memory or disk: its limit is the fix, as its
    finding advises; the change is the pod-template field."""
    finding = ctx.first("noisy-neighbour")
    if finding is None or not finding.remediation:
        return None
    ev = finding.evidence
    resource = "memory" if ev.get("resource") == "memory" else "ephemeral-storage"
    limit = code(f"resources: {{limits: {{{resource}: …}}}}")
    where = f"In the pod template of {code(str(ev.get('workload') or 'the workload'))} ({ev.get('kind') or 'workload'}): "
    # A pod spec has no process limit (the kubelet's podPidsLimit is the cap, its own item): the change is
    # the workload's leak.
    pattern = ("find what leaks processes ({ps} in one of its pods), and run an init that reaps its children "
               "({init}) as PID 1" if ev.get("resource") == "pids"
               else _NEIGHBOUR_CHANGE.get(str(ev.get("fills") or ""), "{limit} on its containers"))
    change = where + pattern.format(limit=limit, rotation=code("containerLogMaxSize: 50Mi, containerLogMaxFiles: 3"),
                                    size_limit=code("sizeLimit"), ps=code("ps -eLf"), init=code("tini"))
    if ev.get("priority_class"):
        change += (f"; a PriorityClass below the services' instead of {code(str(ev['priority_class']))} "
                   f"({ev.get('priority')})")
    priority = "P0" if "noisy-neighbour" in ctx.trigger_rules and not ctx.rollout_is_trigger else "P1"
    return ActionItem(priority, "prevent", inline(finding.remediation), Md(change), refs)


def _neighbour_claims(ctx: Context, present: tuple[str, ...]) -> tuple[str, ...]:
    """The service's own missing memory limit is the neighbour's fact when the service is the culprit."""
    finding = ctx.first("noisy-neighbour")
    itself = finding is not None and finding.evidence.get("is_service") and finding.evidence.get("resource") == "memory"
    return tuple(r for r in present if r == "noisy-neighbour" or itself)


BLIND_SPOT_RULES = ("check-forbidden", "check-failed", "check-timeout")


def _blind_spots(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """Checks that could not look: the next incident's diagnosis is blind there too. A check that failed
    because what it reads does not exist (`not_found`: an image no registry holds) saw the answer; it stays
    in the appendix, and alone it asks for nothing."""
    blind: set[str] = set()
    for rule in BLIND_SPOT_RULES:
        refs_of, found = ctx.refs_by_rule.get(rule, ()), ctx.findings.get(rule, ())
        if len(found) != len(refs_of):  # the findings' evidence is not at hand: each one counts
            blind.update(refs_of)
        else:
            blind.update(ref for ref, f in zip(refs_of, found, strict=True) if not f.evidence.get("not_found"))
    if not blind:
        return None
    refs = tuple(r for r in refs if r in blind)
    grants = sorted({f"{f.evidence['verb']} {f.evidence['resource']}" for f in ctx.findings.get("check-forbidden", ())
                     if f.evidence.get("verb") and f.evidence.get("resource")})
    change = ("Grant Coroner's service account " + ", ".join(code(g) for g in grants) + "; " if grants else "")
    change += "see the findings for the checks that failed or timed out"
    return ActionItem("P2", "detect", Md("Let the diagnosis see what it could not this time"), Md(change), refs)


THEMES: tuple[Theme, ...] = (
    Theme(IMAGE_CULPRIT_RULES, lambda ctx, refs: _shrink(ctx, refs) if ctx.image_is_cause else None),
    Theme(GROWTH_RULES, _gate),
    Theme(("rollback-candidate",), _rollback),
    Theme(("noisy-neighbour", "no-memory-limit"), _neighbour, claims=_neighbour_claims),
    Theme(("hpa-scaling", "pull-pressure"), _autoscaler),
    Theme(("registry-errors", "image-pull-failing", "image-pull-slow", "blast-radius"), _pulls,
          claims=_registry_radius_claims),
    Theme(("crashloop",), _crash),
    Theme(("node-disk-high", "node-pressure", "node-not-ready", "evictions"), _node_alert),
    Theme(("node-pressure",), _pids),
    Theme(("node-not-ready",), _spread),
    Theme(("pods-not-ready",), _rollout_alert),
    Theme(("pods-not-ready",), _placement),
    Theme(("secret-in-history", "secret-in-layer", "secret-in-env"), _secret),
    Theme(BLIND_SPOT_RULES, _blind_spots),
)
_PRIORITY = {"P0": 0, "P1": 1, "P2": 2}
# The checks whose findings are the image's and its Dockerfile's: their leftovers are one hygiene item.
IMAGE_CHECKS = frozenset({"dockerfile", "image"})
LINT_RULES = frozenset(rule.id for rule in DOCKERFILE_RULES)


@dataclass(frozen=True)
class Remedy:
    """One finding's advice: its reference, its remediation, whether it is serious (high or worse), and the
    check that found it."""

    ref: str
    text: str | None
    serious: bool
    check: str | None = None


def action_items(ctx: Context, *, contributing: frozenset[str], remedies: dict[str, list[Remedy]],
                 fix_rules: frozenset[str]) -> tuple[ActionItem, ...]:
    """`contributing`: rule ids in the causal chain; `remedies`: rule -> the advice of each of its findings;
    `fix_rules`: rule ids the Dockerfile fix addresses."""
    items: list[ActionItem] = []
    claimed: set[str] = {FIX_RULE}  # the proposed patch is not a finding to act on: it is the action
    hygiene: list[str] = []
    for theme in THEMES:
        present = tuple(r for r in theme.rules if r in ctx.refs_by_rule)
        if not present:
            continue
        present = theme.claims(ctx, present) if theme.claims is not None else present
        claimed.update(present)
        item = theme.build(ctx, _refs(ctx, present))
        if item is not None:
            items.append(item)
        elif theme.rules is IMAGE_CULPRIT_RULES:
            hygiene.extend(present)  # the image did not break: its culprit findings are hygiene here
    fix = _revision_fix(ctx, _refs(ctx, ctx.trigger_rules))
    if fix is not None:
        items.append(fix)
    # Findings no theme claims: serious or contributing ones keep their own remediation, the rest is hygiene.
    # The trigger's own remediation, when the trigger is not the service's rollout (a neighbour), is the P0.
    own: dict[str, tuple[str, list[str]]] = {}
    for rule, entries in remedies.items():
        if rule in claimed:
            continue
        advice = next((e.text for e in entries if e.text), None)
        if advice is not None and (rule in contributing or any(e.serious for e in entries)):
            priority = "P0" if rule in ctx.trigger_rules and not ctx.rollout_is_trigger else "P1"
            key = " ".join(advice.split())
            previous = own.get(key, (priority, []))
            own[key] = (min(previous[0], priority), previous[1] + [e.ref for e in entries])
        elif advice is not None:
            hygiene.append(rule)
    for text, (priority, refs) in own.items():
        kind = "prevent" if priority == "P0" else "mitigate"
        items.append(ActionItem(priority, kind, inline(text), Md("see the finding's evidence"), tuple(refs)))
    items.sort(key=lambda i: _PRIORITY[i.priority])
    checks = {rule: next((e.check for e in entries if e.check), None) for rule, entries in remedies.items()}

    def of_image(rule: str) -> bool:
        return checks.get(rule) in IMAGE_CHECKS or rule in IMAGE_CULPRIT_RULES or rule in LINT_RULES

    groups = [g for g in (_workload_hygiene(ctx, sorted(r for r in set(hygiene) if not of_image(r)), remedies),
                          _image_hygiene(ctx, sorted(r for r in set(hygiene) if of_image(r)), fix_rules))
              if g is not None]
    # P2 items made by themes (the blind spots) sort before the groups; the groups always fit.
    return tuple(items[: MAX_ITEMS - len(groups)] + groups)


def _workload_hygiene(ctx: Context, rules: list[str], remedies: dict[str, list[Remedy]]) -> ActionItem | None:
    """The workload's own settings that did not contribute (a weak probe, a missing limit), each with its advice."""
    if not rules:
        return None
    advice = "; ".join(f"{code(r)}: {inline(shorten(text, 120))}" for r in rules
                       if (text := next((e.text for e in remedies.get(r, ()) if e.text), None)))
    return ActionItem("P2", "prevent", Md("Workload settings (did not contribute): " + ", ".join(code(r) for r in rules)),
                      Md(advice), _refs(ctx, rules))


def _image_hygiene(ctx: Context, rules: list[str], fix_rules: frozenset[str],
                   ) -> ActionItem | None:
    if not rules:
        return None
    in_fix = [r for r in rules if r in fix_rules]
    # What the Dockerfile linter knows is found again by `coroner lint`; the rest only the image shows.
    lint = [r for r in rules if r not in fix_rules and r in LINT_RULES]
    image = [r for r in rules if r not in fix_rules and r not in LINT_RULES]
    where = []
    if in_fix:
        where.append(", ".join(code(r) for r in in_fix) + " fixed by the patch in *Dockerfile fix*")
    if lint:
        where.append(", ".join(code(r) for r in lint) + ": " + code("coroner lint Dockerfile"))
    if image:
        where.append(", ".join(code(r) for r in image) + ": " + code("coroner image IMAGE") + " on the running image")
    return ActionItem("P2", "prevent", Md("Dockerfile and image hygiene (did not contribute): "
                                          + ", ".join(code(r) for r in rules)), Md("; ".join(where)), _refs(ctx, rules))
