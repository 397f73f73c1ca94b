"""Action items: at most ten, one per meaning, each with a priority (P0 prevent recurrence, P1 mitigate and
detect earlier, P2 hygiene), a kind (prevent, detect, mitigate), an owner to fill in, and the concrete
change (a diff, a command or a config).

Findings are grouped by what fixing them means (`THEMES`), not one item per finding: three full nodes and
the rollout's growth ask for the same change. What no theme claims and did not contribute to the incident
is lint hygiene, and goes into one grouped P2 item that points at the diff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.domain import RollbackDecision
from bot.postmortem.markdown import Md, code, inline

MAX_ITEMS = 10
OWNER = "owner to assign"
FIX_RULE = "dockerfile-fix"  # the finding that carries the proposed patch


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


@dataclass(frozen=True)
class Theme:
    rules: tuple[str, ...]
    build: Callable[[Context, tuple[str, ...]], ActionItem | None]


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


def _hpa(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    change = Md(code("behavior: {scaleUp: {policies: [{type: Pods, value: 4, periodSeconds: 60}], "
                     "stabilizationWindowSeconds: 120}}") + " in the HorizontalPodAutoscaler, so pods that "
                "cannot start are not multiplied")
    return ActionItem("P1", "mitigate", Md("Limit the autoscaler's scale-up rate"), change, refs)


def _registry(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    change = Md("A pull-through cache per node pool or zone, and a registry rate limit per client; then "
                f"point the nodes at it ({code('CORONER_REGISTRY_MIRRORS')} reads the same mapping)")
    return ActionItem("P1", "mitigate", Md("Protect the registry from pull storms"), change, refs)


# What each filesystem holds, for the alert's wording: a full nodefs is logs and emptyDir volumes, not images.
_FILESYSTEM_ALERT = {
    "imagefs": "the image filesystem above the kubelet's image GC high threshold",
    "nodefs": "the node's root filesystem (nodefs: logs, emptyDir volumes) above 85 % used",
}


def _node_alert(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    """The node conditions the findings saw, each with its alert; disk also by the filesystem that filled."""
    memory = "MemoryPressure" in ctx.node_conditions
    disk = "DiskPressure" in ctx.node_conditions or bool(ctx.filesystems) or not memory
    alerts, what = [], []
    if memory:
        alerts.append(code('kube_node_status_condition{condition="MemoryPressure",status="true"} == 1')
                      + " and on a node's memory working set above 90 % of allocatable")
        what.append("memory")
    if disk:
        filesystems = [_FILESYSTEM_ALERT[f] for f in ("nodefs", "imagefs") if f in ctx.filesystems]
        alerts.append(code('kube_node_status_condition{condition="DiskPressure",status="true"} == 1') + ", and on "
                      + (" and on ".join(filesystems) if filesystems else _FILESYSTEM_ALERT["imagefs"]))
        what.append("disk")
    change = Md("Alert on " + "; on ".join(alerts) + ", for 2 min, before the kubelet evicts pods or nodes go NotReady")
    return ActionItem("P1", "detect", Md(f"Page on node {' and '.join(what)} pressure"), change, refs)


def _revision_fix(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    """The service's own rollout broke it without the image being the cause (a config, args or env change):
    fix that change before rolling forward again."""
    if not ctx.rollout_is_trigger or ctx.image_is_cause or not ctx.trigger_text:
        return None
    change = Md(f"Correct what {inline(ctx.trigger_text)} changed, and start the new pod template once in staging "
                "(or behind a readiness probe that fails the rollout) before it reaches production")
    return ActionItem("P0", "prevent", Md("Fix the change that broke the rollout before rolling forward"),
                      change, refs)


def _rollout_alert(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    if ctx.detect_seconds is None or ctx.detect_seconds < 10 * 60:
        return None  # detection was quick enough: nothing to learn here
    name = ctx.service or "SERVICE"
    change = Md("Alert on " + code(f'kube_deployment_status_replicas_unavailable{{deployment="{name}"}} > 0')
                + f" for 5 min after a rollout, and watch rollouts with {code('kubectl rollout status --timeout')}")
    return ActionItem("P1", "detect", Md("Detect a failing rollout before the SLO alert does"),
                      change, refs)


def _rollback(ctx: Context, refs: tuple[str, ...]) -> ActionItem | None:
    if not ctx.rollback.recommended or ctx.undo_command is None:
        return None
    change = Md(f"{code(ctx.undo_command)}; keep revision {ctx.rollback.revision} in the ReplicaSet history "
                f"({code('revisionHistoryLimit')}) until the fixed image is live")
    return ActionItem("P1", "mitigate", Md(f"Roll back first when a rollout is implicated: revision "
                                           f"{ctx.rollback.revision} was healthy"), change, refs)


def _secret(ctx: Context, refs: tuple[str, ...]) -> ActionItem:
    change = Md("Rotate the value, then inject it at run time (a Kubernetes Secret via "
                f"{code('env.valueFrom.secretKeyRef')}); remove it from the image config and history")
    return ActionItem("P1", "prevent", Md("Rotate the secret baked into the image"), change, refs)


THEMES: tuple[Theme, ...] = (
    Theme(IMAGE_CULPRIT_RULES, lambda ctx, refs: _shrink(ctx, refs) if ctx.image_is_cause else None),
    Theme(GROWTH_RULES, _gate),
    Theme(("rollback-candidate",), _rollback),
    Theme(("hpa-scaling", "pull-pressure"), _hpa),
    Theme(("registry-errors", "image-pull-failing", "image-pull-slow"), _registry),
    Theme(("node-disk-high", "node-pressure", "node-not-ready", "evictions"), _node_alert),
    Theme(("pods-not-ready",), _rollout_alert),
    Theme(("secret-in-history", "secret-in-layer", "secret-in-env"), _secret),
)
_PRIORITY = {"P0": 0, "P1": 1, "P2": 2}


@dataclass(frozen=True)
class Remedy:
    """One finding's advice: its reference, its remediation, and whether it is serious (high or worse)."""

    ref: str
    text: str | None
    serious: bool


def action_items(ctx: Context, *, contributing: frozenset[str], remedies: dict[str, list[Remedy]],
                 fix_rules: frozenset[str]) -> tuple[ActionItem, ...]:
    """`contributing`: rule ids in the causal chain; `remedies`: rule -> the advice of each of its findings;
    `fix_rules`: rule ids the Dockerfile fix addresses."""
    items: list[ActionItem] = []
    claimed: set[str] = {FIX_RULE}  # the proposed patch is not a finding to act on: it is the action
    hygiene: list[str] = []
    for theme in THEMES:
        present = [r for r in theme.rules if r in ctx.refs_by_rule]
        if not present:
            continue
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
    hygiene_rules = sorted(set(hygiene))
    if hygiene_rules:
        in_fix = [r for r in hygiene_rules if r in fix_rules]
        rest = [r for r in hygiene_rules if r not in fix_rules]
        where = ", ".join(code(r) for r in in_fix) + " fixed by the patch in *Dockerfile fix*" if in_fix else ""
        if rest:
            where += ("; " if where else "") + ", ".join(code(r) for r in rest) + ": " + code("coroner lint Dockerfile")
        items = items[: MAX_ITEMS - 1]
        items.append(ActionItem("P2", "prevent", Md("Dockerfile and image hygiene (did not contribute): "
                                                    + ", ".join(code(r) for r in hygiene_rules)),
                                Md(where), _refs(ctx, hygiene_rules)))
    return tuple(items[:MAX_ITEMS])

