"""How a revision's pods fail, and what a revision changed: the facts that decide whether a rollout is to
blame (issue 9). Two ReplicaSets are compared side by side with the same words.

A failure is *its own* when the revision's pods fail by themselves: crash loops, OOM kills at the
container's own limit, image pull errors the registry did not cause, config errors, failing probes, and
pods that request more than any node can hold (no node will ever fit them, whatever the cluster does). It
is *node-level* when the pods fail through where they run: evictions, pods that cannot be scheduled, nodes
that are NotReady, the node's OOM killer (a container without a memory limit can only be killed by it),
a registry that is down for everyone, and a registry that refuses the pull credentials (401/403: an
expired token or secret hits every workload pulling with it). A rollback helps with the first kind only;
a refused pull is the revision's own only when it changed where the image is pulled from or with which
secret (`rollout.implication` counts it back as a pull error then).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.checks.pulls import image_repository, registry_auth_kind, registry_error_kind
from bot.checks.container_state import CONFIG_ERRORS, PULL_FAILURES, crash_looping
from bot.cluster.snapshots import EventSnapshot, NodeSnapshot, PodSnapshot
from bot.units import QuantityError, parse_quantity

OWN_FAILURES = ("crash-loop", "oom-killed", "pull-error", "config-error", "probe-failure", "fits-no-node")
NODE_LEVEL_FAILURES = ("evicted", "unschedulable", "node-not-ready", "system-oom", "registry-error", "registry-auth",
                       "sandbox-error")
REGISTRY_FAILURES = ("registry-error", "registry-auth")


# Event kinds that only restate what a pod failing now shows: the scheduler's FailedScheduling of a pod that
# fits no node is that failure, not a second, node-level one.
# Likewise the BackOff and probe failures of a container that crash-loops or is OOM-killed now.
SAME_FAILURE = {"fits-no-node": ("unschedulable",), "crash-loop": ("probe-failure",),
                "oom-killed": ("crash-loop", "probe-failure")}


def pod_failure(pod: PodSnapshot, nodes: Mapping[str, NodeSnapshot]) -> str | None:
    """The one kind of failure a pod shows now, or None when it is fine (or finished)."""
    if pod.reason == "Evicted":
        return "evicted"
    if pod.phase == "Succeeded":
        return None
    node = nodes.get(pod.node_name or "")
    if node is not None and not node.ready:
        return "node-not-ready"
    if pod.phase == "Pending" and not pod.node_name:
        return "fits-no-node" if fits_no_node(pod, nodes) else "unschedulable"
    for c in pod.containers:
        if c.state == "waiting" and c.state_reason in PULL_FAILURES:
            return pull_failure(c.state_message or "")
        if c.state == "waiting" and c.state_reason in CONFIG_ERRORS:
            return "config-error"
        if crash_looping(c):
            if c.last_terminated_reason == "OOMKilled":
                # Without a limit the container's cgroup has none: only the node's OOM killer kills it.
                return "oom-killed" if c.memory_limit else "system-oom"
            return "crash-loop"
    if pod.phase == "Running" and not pod.ready and any(c.state == "running" and c.ready is False for c in pod.containers):
        return "probe-failure"
    return None


SCHEDULED_RESOURCES = ("cpu", "memory")


def pod_requests(pod: PodSnapshot) -> dict[str, Decimal]:
    """What the scheduler reserves for a pod: the sum of its containers' requests, or the largest init
    container's when that is more (init containers run one at a time, before the others)."""
    out: dict[str, Decimal] = {}
    for resource in SCHEDULED_RESOURCES:
        running = sum((_amount(c.requests.get(resource)) for c in pod.containers), Decimal(0))
        init = max((_amount(c.requests.get(resource)) for c in pod.init_containers), default=Decimal(0))
        if max(running, init):
            out[resource] = max(running, init)
    return out


def fits_no_node(pod: PodSnapshot, nodes: Mapping[str, NodeSnapshot]) -> dict[str, Decimal]:
    """The resources a pod requests beyond the allocatable of every node (empty: some node could hold it,
    or the nodes are not known). Such a pod stays Pending whatever the cluster frees: the spec is wrong."""
    if not nodes:
        return {}
    requested = pod_requests(pod)
    beyond = {}
    for resource, amount in requested.items():
        sizes = [_amount(n.allocatable.get(resource)) for n in nodes.values() if n.allocatable.get(resource)]
        if sizes and amount > max(sizes):
            beyond[resource] = amount
    return beyond


def _amount(value: str | None) -> Decimal:
    if not value:
        return Decimal(0)
    try:
        return parse_quantity(value)
    except QuantityError:
        return Decimal(0)


def pull_failure(message: str) -> str:
    """A failed pull's kind from its message: the registry down or failing, the registry refusing the
    credentials, or the pull's own error (a tag or repository that does not exist, a bad name)."""
    if registry_error_kind(message):
        return "registry-error"
    return "registry-auth" if registry_auth_kind(message) else "pull-error"


def pull_failures(pods: Iterable[PodSnapshot], events: Iterable[EventSnapshot],
                  nodes: Mapping[str, NodeSnapshot]) -> dict[str, str]:
    """Pod name -> its failure kind now, with "Back-off pulling image" (which does not say why) told by
    the pod's own Warning events: a pull-error whose events show the registry failing or refusing it is
    that registry kind."""
    kinds = {p.name: kind for p in pods if (kind := pod_failure(p, nodes)) is not None}
    for ev in events:
        if ev.involved_kind == "Pod" and kinds.get(ev.involved_name) == "pull-error":
            kind = event_failure(ev)
            if kind in REGISTRY_FAILURES:
                kinds[ev.involved_name] = kind
    return kinds


def event_failure(ev: EventSnapshot) -> str | None:
    """The kind of failure a Warning event of a pod records, or None."""
    if ev.type != "Warning":
        return None
    message = ev.message.lower()
    if ev.reason == "Evicted":
        return "evicted"
    if ev.reason == "FailedScheduling":
        return "unschedulable"
    if ev.reason == "FailedCreatePodSandBox":
        return "sandbox-error"  # the node's runtime or network plugin, before any container of the pod
    if (ev.reason in ("ErrImagePull", "Failed") and "pull" in message) or (ev.reason == "BackOff" and "pulling image" in message):
        return pull_failure(ev.message)
    if ev.reason == "Failed" and ("configmap" in message or "secret" in message or "createcontainer" in message):
        return "config-error"
    if ev.reason == "BackOff":
        return "crash-loop"
    if ev.reason == "OOMKilling":
        return "oom-killed"
    if (ev.reason == "Unhealthy" and "readiness" in message) or (ev.reason == "Unhealthy" and "liveness" in message):
        return "probe-failure"
    return None


def owned_by(name: str, owner_rs: str) -> bool:
    return name.startswith(f"{owner_rs}-")


CONTROLLER_REVISION_HASH = "controller-revision-hash"


def runs_revision(pod: PodSnapshot, revision: str) -> bool:
    """Whether a pod runs this revision: owned by the ReplicaSet `revision` (or named after it), or
    labelled with the ControllerRevision `revision`: a StatefulSet's pods carry its name, a DaemonSet's the
    hash that ends it (the controller names it `<daemonset>-<hash>`)."""
    if any(o.name == revision for o in pod.owners) or owned_by(pod.name, revision):
        return True
    label = pod.labels.get(CONTROLLER_REVISION_HASH)
    controller = pod.controller
    return bool(label) and (label == revision or (controller is not None and f"{controller.name}-{label}" == revision))


def _pod_of(name: str, controller: str) -> bool:
    """A pod name a StatefulSet (`<name>-<ordinal>`) or a DaemonSet (`<name>-<suffix>`) gives."""
    suffix = name.removeprefix(f"{controller}-")
    return suffix != name and suffix.isalnum()


def failures(
    rs_name: str,
    pods: Iterable[PodSnapshot],
    events: Iterable[EventSnapshot],
    nodes: Mapping[str, NodeSnapshot],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    controller: str | None = None,
) -> tuple[Counter[str], datetime | None]:
    """Failures of one revision's pods: pods failing now (one kind each) plus kinds that its pods'
    Warning events in [start, end] record and no live pod shows. Returns the counts and when the failures
    began: the first failure event, else the creation of the first failing pod.

    A ReplicaSet's pods are named after it, so its events are told by name. A ControllerRevision's are not
    (a StatefulSet's pod keeps its name from revision to revision): with `controller`, the StatefulSet's or
    DaemonSet's name, events of its pods count by time alone, [start, end], except a live pod's that runs
    another revision."""
    pods = list(pods)
    own_pods = [p for p in pods if runs_revision(p, rs_name)]
    others = {p.name for p in pods if not runs_revision(p, rs_name)}
    mine = [ev for ev in events if ev.involved_kind == "Pod" and (
        owned_by(ev.involved_name, rs_name)
        or (controller is not None and _pod_of(ev.involved_name, controller) and ev.involved_name not in others))]
    pod_kinds = pull_failures(own_pods, mine, nodes)
    counts: Counter[str] = Counter(pod_kinds.values())
    created = [p.created_at for p in own_pods if p.name in pod_kinds and p.created_at is not None]
    first_pod = min(created) if created else None
    # A failure event dates the failure; a failing pod's creation only bounds it from below.
    first: datetime | None = None
    from_events: Counter[str] = Counter()
    for ev in mine:
        at = ev.first_at or ev.last_at
        if at is not None and ((start and at < start) or (end and at > end)):
            continue
        kind = event_failure(ev)
        if kind is None:
            continue
        if ev.first_at is not None and (first is None or ev.first_at < first):
            first = ev.first_at
        if kind not in SAME_FAILURE.get(pod_kinds.get(ev.involved_name, ""), ()):
            from_events[kind] += 1
    for kind, n in from_events.items():
        counts.setdefault(kind, n)
    return counts, first or first_pod


def own(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: n for k, n in counts.items() if k in OWN_FAILURES}


# --- what a revision changed ------------------------------------------------------------------------

# What a pod template change can be: the words the evidence and the docs use.
# In the order they are told: the specific changes before the image, which changes with nearly every rollout.
_CONTAINER_FIELDS = {
    "command": ("command", "args", "workingDir"),
    "env": ("env", "envFrom"),
    "resources": ("resources",),
    "probes": ("readinessProbe", "livenessProbe", "startupProbe"),
    "volumes": ("volumeMounts",),
    "image": ("image",),
}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, str]]:
    """What the pod template `after` changed against `before`, per container and aspect (image, command,
    env, resources, probes, volumes), each with a short detail an on-call can check."""
    out: list[dict[str, str]] = []
    spec_a, spec_b = before.get("spec") or {}, after.get("spec") or {}
    old = {c.get("name"): c for c in list(spec_a.get("initContainers") or ()) + list(spec_a.get("containers") or ())}
    new = {c.get("name"): c for c in list(spec_b.get("initContainers") or ()) + list(spec_b.get("containers") or ())}
    for name, c_new in new.items():
        c_old = old.get(name)
        if c_old is None:
            out.append({"what": "containers", "container": str(name), "detail": f"container {name} added"})
            continue
        for what, fields in _CONTAINER_FIELDS.items():
            diffs = [f for f in fields if c_old.get(f) != c_new.get(f)]
            if diffs:
                out.append({"what": what, "container": str(name), "detail": _detail(what, c_old, c_new, diffs)})
        # Where the image is pulled from: a new registry or repository needs credentials the old one did not.
        repo_old, repo_new = image_repository(str(c_old.get("image"))), image_repository(str(c_new.get("image")))
        if repo_old != repo_new:
            out.append({"what": "registry", "container": str(name),
                        "detail": f"image repository {repo_old or 'unset'} -> {repo_new or 'unset'}"})
    for name in old.keys() - new.keys():
        out.append({"what": "containers", "container": str(name), "detail": f"container {name} removed"})
    if spec_a.get("volumes") != spec_b.get("volumes"):
        out.append({"what": "volumes", "container": "", "detail": "pod volumes changed"})
    # The pull secrets: listed on the pod, or attached to its service account.
    secrets_a = sorted(str(s.get("name")) for s in spec_a.get("imagePullSecrets") or ())
    secrets_b = sorted(str(s.get("name")) for s in spec_b.get("imagePullSecrets") or ())
    if secrets_a != secrets_b:
        out.append({"what": "pull-secrets", "container": "",
                    "detail": f"imagePullSecrets {', '.join(secrets_a) or 'none'} -> {', '.join(secrets_b) or 'none'}"})
    account_a = spec_a.get("serviceAccountName") or "default"
    account_b = spec_b.get("serviceAccountName") or "default"
    if account_a != account_b:
        out.append({"what": "pull-secrets", "container": "",
                    "detail": f"serviceAccountName {account_a} -> {account_b}"})
    return out


def metadata_only(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether `after` changed only the pod template's annotations or labels (`kubectl rollout restart`
    sets kubectl.kubernetes.io/restartedAt): the same pods, restarted."""
    if before.get("spec") != after.get("spec"):
        return False
    def meta(t: Mapping[str, Any]) -> tuple[Any, Any]:
        m = t.get("metadata") or {}
        labels = {k: v for k, v in (m.get("labels") or {}).items() if k != "pod-template-hash"}
        return labels, m.get("annotations") or {}
    return meta(before) != meta(after)


def _detail(what: str, old: Mapping[str, Any], new: Mapping[str, Any], fields: list[str]) -> str:
    if what == "image":
        return f"image {_tag(str(old.get('image')))} -> {_tag(str(new.get('image')))}"
    if what == "resources":
        parts = []
        for section in ("limits", "requests"):
            a = (old.get("resources") or {}).get(section) or {}
            b = (new.get("resources") or {}).get(section) or {}
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    parts.append(f"{section}.{key} {a.get(key, 'unset')} -> {b.get(key, 'unset')}")
        return ", ".join(parts) or "resources changed"
    if what == "env":
        a = {e.get("name"): e for e in old.get("env") or ()}
        b = {e.get("name"): e for e in new.get("env") or ()}
        names = sorted(str(n) for n in set(a) | set(b) if a.get(n) != b.get(n))
        parts = [f"env {', '.join(n + _env_source(b.get(n)) for n in names)}"] if names else []
        added, removed = sorted(_env_from(new) - _env_from(old)), sorted(_env_from(old) - _env_from(new))
        if len(added) == len(removed) == 1 and added[0][0] == removed[0][0]:
            parts.append(f"envFrom {added[0][0]} {removed[0][1]} -> {added[0][1]}")
        else:
            parts += [f"envFrom {kind} {name} added" for kind, name in added]
            parts += [f"envFrom {kind} {name} removed" for kind, name in removed]
        return ", ".join(parts) or "env changed"
    if what == "command":
        # What it runs now: "args --config /etc/worker/config.yaml --queue v2".
        parts = [f"{f} {' '.join(str(x) for x in new.get(f) or ()) or 'unset'}" for f in fields if f != "workingDir"]
        return "; ".join(parts) if parts else "workingDir changed"
    if what == "probes":
        # "readinessProbe httpGet /healthz:8080 -> httpGet /health/ready:8080": what to compare with the app;
        # "livenessProbe timeoutSeconds 5 -> 1": a probe that now gives up sooner.
        return ", ".join(f"{f} {_probe_change(old.get(f), new.get(f))}" for f in fields)
    return ", ".join(fields) + " changed"


# A probe's timing, as the API spells it, with the API server's defaults.
_PROBE_TIMING = {"initialDelaySeconds": 0, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                 "failureThreshold": 3}


def _probe_change(old: Any, new: Any) -> str:
    action_old, action_new = _probe(old), _probe(new)
    parts = [f"{action_old} -> {action_new}"] if action_old != action_new else []
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key, default in _PROBE_TIMING.items():
            if (before := old.get(key, default)) != (after := new.get(key, default)):
                parts.append(f"{key} {before} -> {after}")
    return ", ".join(parts) or f"{action_new} (changed)"


def _probe(probe: Any) -> str:
    if not isinstance(probe, Mapping):
        return "unset"
    for kind, target in (("httpGet", "path"), ("tcpSocket", "port"), ("grpc", "port"), ("exec", "command")):
        action = probe.get(kind)
        if isinstance(action, Mapping):
            value = action.get(target)
            text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            port = action.get("port") if kind == "httpGet" else None
            return f"{kind} {text}" + (f":{port}" if port is not None else "")
    return "changed"


def _tag(image: str) -> str:
    """`registry/app:1.2` -> `app:1.2`: the repository is the same on both sides of a change."""
    return image.rsplit("/", 1)[-1]


def _env_source(var: Any) -> str:
    """" (from secret auth-keys key signing-key-v2)": where a variable read from a Secret or ConfigMap key
    comes from, so the on-call can check the key exists."""
    source = var.get("valueFrom") if isinstance(var, Mapping) else None
    for kind, word in (("secretKeyRef", "secret"), ("configMapKeyRef", "configMap")):
        ref = source.get(kind) if isinstance(source, Mapping) else None
        if isinstance(ref, Mapping):
            return f" (from {word} {ref.get('name')} key {ref.get('key')})"
    return ""


def _env_from(container: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The ConfigMaps and Secrets a container takes its environment from: {("configMap", "app-config-v7")}."""
    out = set()
    for source in container.get("envFrom") or ():
        for kind in ("configMapRef", "secretRef"):
            if ref := (source or {}).get(kind):
                out.add((kind.removesuffix("Ref"), str(ref.get("name"))))
    return out


# Which changes can explain which kind of failure of the revision's own pods.
EXPLAINS: dict[str, tuple[str, ...]] = {
    # A liveness probe that fails kills the container: restarts, then CrashLoopBackOff.
    "crash-loop": ("image", "command", "env", "volumes", "containers", "resources", "probes"),
    "oom-killed": ("resources", "image", "env", "command"),
    "pull-error": ("image", "registry", "pull-secrets"),
    "config-error": ("env", "volumes", "command", "containers", "image"),
    "probe-failure": ("probes", "image", "env", "command", "resources"),
    "fits-no-node": ("resources", "containers"),
}
