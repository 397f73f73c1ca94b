"""The blast radius of a registry: when the service's pulls fail on the registry's side (down, failing, or
refusing the credentials), which other workloads' pulls fail on the same registry host.

A registry that is down, or a pull token that expired, fails every workload pulling from it; a tag that
does not exist fails one. Counting the others is what tells the two apart for the on-call, and what says
the revision is not to blame. Two kinds of pods wait on a pull: new ones, Pending (read cluster-wide with a
field selector that keeps a big cluster's list small), and running ones whose container exited and must
pull its image again (imagePullPolicy Always, or a node that garbage-collected it): their pod stays Running
while the container waits in ImagePullBackOff. Those are found through the cluster-wide `Failed` pull
events, which name them, and read from their namespaces only. "Back-off pulling image" does not say why a
pull fails, so the same events do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.checks import consumers, facts, revision_health
from bot.checks.consumers import Workload
from bot.checks.context import CheckContext
from bot.checks.pulls import image_registry, registry_auth_kind, registry_error_kind
from bot.checks.container_state import PULL_FAILURES
from bot.cluster.snapshots import EventSnapshot, NodeSnapshot, PodSnapshot
from bot.domain import Finding, Severity
from bot.ports import ClusterForbidden, ClusterReadError
from bot.units import plural

PENDING = "status.phase=Pending"
PULL_EVENTS = "involvedObject.kind=Pod,type=Warning,reason=Failed"
SOURCE = "pod statuses and pull events"
MAX_LISTED = 20
# Namespaces read for running pods that pull again: a registry down for everyone names many, and each is
# one list call; past this many, the pods in them are not counted and the finding says so.
MAX_NAMESPACES = 20


@dataclass(frozen=True)
class RegistryTrouble:
    """The registries failing the service's own pulls, and how they fail them."""

    hosts: tuple[str, ...]
    kinds: Counter[str]  # registry-error / registry-auth: pods of the service
    errors: Counter[str]  # "401 Unauthorized", "503", "connection refused": what the messages say


def blast_radius(ctx: CheckContext) -> Finding | None:
    """A `blast-radius` finding (scope `registry`) when the service's pulls fail on the registry's side."""
    trouble = _trouble(ctx)
    if trouble is None:
        return None
    mine = {(ctx.target.namespace, p.name) for p in facts.pods(ctx)}
    unseen = None
    try:
        pending = [p for p in ctx.cluster.list_pods(None, field_selector=PENDING) if (p.namespace, p.name) not in mine]
        events = _pull_events(ctx)
        running, unseen = _pulling_again(ctx, events, skip=mine | {(p.namespace, p.name) for p in pending})
        candidates = [p for p in pending + running if _pulls_from(p, trouble.hosts)]
    except ClusterForbidden as exc:
        ctx.forbidden("neighbours", exc)
        candidates, events, unseen = [], [], f"other workloads' pods ({exc.verb} {exc.resource} is forbidden)"
    except ClusterReadError as exc:
        candidates, events, unseen = [], [], f"other workloads' pods ({exc})"
    kinds = revision_health.pull_failures(candidates, events, _nodes(ctx))
    hit = [(p, kinds[p.name]) for p in candidates if kinds.get(p.name) in revision_health.REGISTRY_FAILURES]
    workloads: Counter[str] = Counter()
    how: Counter[str] = Counter()
    for pod, kind in hit:
        workloads[consumers.owner(ctx, pod).ref] += 1
        how[kind] += 1
    return _finding(ctx, trouble, hit, workloads, how, unseen)


def _trouble(ctx: CheckContext) -> RegistryTrouble | None:
    try:
        pods = facts.pods(ctx)
    except ClusterReadError:
        return None
    if not any(c.state_reason in PULL_FAILURES for p in pods for c in p.containers):
        return None  # no pull fails: nothing to ask the events about
    events = facts.readable_service_events(ctx, "neighbours")
    kinds = revision_health.pull_failures(pods, events, _nodes(ctx))
    failing = [p for p in pods if kinds.get(p.name) in revision_health.REGISTRY_FAILURES]
    if not failing:
        return None
    hosts = sorted({h for p in failing for c in p.containers
                    if c.state_reason in PULL_FAILURES and (h := image_registry(c.image))})
    names = {p.name for p in failing}
    messages = [(c.state_message or "", 1) for p in failing for c in p.containers if c.state_reason in PULL_FAILURES]
    messages += [(e.message, e.count) for e in events if e.involved_kind == "Pod" and e.involved_name in names]
    errors: Counter[str] = Counter()
    for message, count in messages:
        if kind := registry_error_kind(message) or registry_auth_kind(message):
            errors[kind] += count
    return RegistryTrouble(tuple(hosts), Counter(kinds[n] for n in names), errors)


def _pulls_from(pod: PodSnapshot, hosts: tuple[str, ...]) -> bool:
    return any(c.state_reason in PULL_FAILURES and image_registry(c.image) in hosts
               for c in list(pod.containers) + list(pod.init_containers))


def _pull_events(ctx: CheckContext) -> list[EventSnapshot]:
    return ctx.cluster.list_events(None, field_selector=PULL_EVENTS)


def _pulling_again(ctx: CheckContext, events: list[EventSnapshot],
                   *, skip: set[tuple[str, str]]) -> tuple[list[PodSnapshot], str | None]:
    """The pods past Pending that the failed-pull events name: running pods whose container waits on its
    image again. Read per namespace named, at most MAX_NAMESPACES of them (what is left unread is said)."""
    named = {(e.namespace, e.involved_name) for e in events if e.involved_kind == "Pod" and e.namespace
             and "pull" in e.message.lower()} - skip
    namespaces = sorted({ns for ns, _ in named if ns is not None})
    unseen = None
    if len(namespaces) > MAX_NAMESPACES:
        unseen = (f"running pods re-pulling in {len(namespaces) - MAX_NAMESPACES} more namespaces "
                  f"(read at most {MAX_NAMESPACES})")
        namespaces = namespaces[:MAX_NAMESPACES]
    found = [p for ns in namespaces for p in ctx.cluster.list_pods(ns)
             if (p.namespace, p.name) in named]
    return found, unseen


def _nodes(ctx: CheckContext) -> dict[str, NodeSnapshot]:
    try:
        return facts.nodes_by_name(ctx)
    except ClusterReadError:
        return {}


def _finding(ctx: CheckContext, trouble: RegistryTrouble, hit: list[tuple[PodSnapshot, str]],
             workloads: Counter[str], how: Counter[str], unseen: str | None) -> Finding:
    me = Workload(ctx.target.namespace, ctx.target.kind, ctx.target.name)
    registry = ", ".join(trouble.hosts) or "the registry"
    auth = trouble.kinds.most_common(1)[0][0] == "registry-auth"
    said = ", ".join(e for e, _ in trouble.errors.most_common(2)) or "errors"
    verb = "refuses the pull credentials" if auth else "fails pulls"
    mine = sum(trouble.kinds.values())
    title = f"The registry {registry} {verb} ({said}) for {plural(mine, 'pod')} of {me.ref}"
    if hit:
        title += (f" and for {plural(len(hit), 'pod')} of {plural(len(workloads), 'other workload')} "
                  f"({', '.join(list(workloads)[:4])})")
    else:
        title += ": no other workload's pulls from it are seen failing" + (
            ", so the credentials refused may be the service's own pull secret" if auth else "")
    evidence: dict[str, object] = {
        "scope": "registry",
        "registries": list(trouble.hosts),
        "errors": dict(trouble.errors),
        "service_pods": mine,
        "other_pods": len(hit),
        "other_workloads": len(workloads),
        "workloads_hit": dict(workloads),
        "how": dict(how),
        "hit": sorted(f"{p.namespace}/{p.name}" for p, _ in hit)[:MAX_LISTED],
        "source": SOURCE,
    }
    if unseen:
        evidence["unseen"] = unseen
    # Advice only for what is seen: other workloads failing on the same registry make it the registry's
    # (or the shared credentials'); the service alone may be failing it by its own pull storm or secret.
    advice = None
    if hit and auth:
        advice = (f"Renew the pull credentials for {registry} (the shared imagePullSecret, or the nodes' "
                  "credential provider); every workload pulling with them fails until then, and no rollback "
                  "brings them back.")
    elif hit:
        advice = (f"Restore {registry} (or point the nodes at a mirror); pods whose image is cached keep "
                  "running, new ones cannot start, and no rollback helps while it is down.")
    elif auth:
        advice = f"Check the pull secret {me.ref} uses for {registry} (imagePullSecrets or its service account)."
    return Finding(
        rule="blast-radius",
        severity=Severity.MEDIUM if hit else Severity.INFO,
        title=title,
        evidence=evidence,
        remediation=advice,
    )
