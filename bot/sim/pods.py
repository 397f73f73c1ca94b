"""Pod templates and pods as the API server serves them, for every kind of owner.

A template is built from a main container, the pod's extras (init containers, native and classic
sidecars, volumes, priority class) and labels; a pod from a template, its owner's reference and a pod
group of the scenario (phase, readiness, container states, events). Admission's work is done here as the
API server does it: requests defaulted from limits, `priority` resolved from the class, `qosClass`
computed as the kubelet computes it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.sim.objects import build_event, ip_for, object_meta, ts
from bot.sim.schema import (
    ContainerOverride,
    ContainerSpec,
    PodGroupBase,
    PodStatsSpec,
    PodTemplateExtras,
    PriorityClassSpec,
    ProbeSpec,
    VolumeSpec,
)
from bot.units import QuantityError, parse_quantity


def repository_of(ref: str) -> str:
    """`registry:5000/app:tag` -> `registry:5000/app` (a port is not a tag)."""
    name, _, tag = ref.partition("@")[0].rpartition(":")
    return name if name and "/" not in tag else ref.partition("@")[0]


def _probe(spec: ProbeSpec | None) -> dict[str, Any] | None:
    if spec is None:
        return None
    probe: dict[str, Any]
    if spec.http is not None:
        probe = {"httpGet": {"path": spec.http, "port": spec.port, "scheme": "HTTP"}}
    elif spec.tcp:
        probe = {"tcpSocket": {"port": spec.port}}
    elif spec.exec is not None:
        probe = {"exec": {"command": list(spec.exec)}}
    else:
        probe = {"grpc": {"port": spec.port, "service": ""}}
    probe.update({
        "initialDelaySeconds": spec.initial_delay, "timeoutSeconds": spec.timeout, "periodSeconds": spec.period,
        "successThreshold": 1, "failureThreshold": spec.failure_threshold,
    })
    return probe


def build_container(spec: ContainerSpec, image: str, override: ContainerOverride | None = None,
                    *, restart_policy: str | None = None) -> dict[str, Any]:
    """A container as stored: requests defaulted from limits, as the API server's defaulting does."""
    if override is not None:
        # The fields themselves, not model_dump's dicts: a probe stays a ProbeSpec.
        spec = spec.model_copy(update={k: getattr(override, k) for k in type(override).model_fields
                                       if getattr(override, k) is not None})
    container: dict[str, Any] = {"name": spec.name, "image": image}
    if spec.command is not None:
        container["command"] = list(spec.command)
    if spec.args is not None:
        container["args"] = list(spec.args)
    if spec.ports:
        container["ports"] = [{"name": "http" if i == 0 else f"port-{p}", "containerPort": p, "protocol": "TCP"}
                              for i, p in enumerate(spec.ports)]
    if spec.env_from_configmaps:
        container["envFrom"] = [{"configMapRef": {"name": name}} for name in spec.env_from_configmaps]
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in spec.env.items()]
    env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
            for k, ref in spec.env_secret_keys.items()]
    if env:
        container["env"] = env
    resources: dict[str, Any] = {}
    if spec.limits:
        resources["limits"] = dict(spec.limits)
    requests = {**spec.limits, **spec.requests}
    if requests:
        resources["requests"] = requests
    container["resources"] = resources
    if spec.mounts:
        container["volumeMounts"] = [{"name": name, "mountPath": path} for name, path in spec.mounts.items()]
    for key, probe in (("livenessProbe", spec.liveness), ("readinessProbe", spec.readiness)):
        if (converted := _probe(probe)) is not None:
            container[key] = converted
    if restart_policy is not None:
        container["restartPolicy"] = restart_policy
    container.update({
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    })
    return container


def _volume(spec: VolumeSpec) -> dict[str, Any]:
    if spec.empty_dir is not None:
        empty_dir: dict[str, Any] = {}
        if spec.empty_dir.medium:
            empty_dir["medium"] = spec.empty_dir.medium
        if spec.empty_dir.size_limit is not None:
            empty_dir["sizeLimit"] = str(spec.empty_dir.size_limit)
        return {"name": spec.name, "emptyDir": empty_dir}
    if spec.config_map is not None:
        return {"name": spec.name, "configMap": {"name": spec.config_map, "defaultMode": 420}}
    if spec.secret is not None:
        return {"name": spec.name, "secret": {"secretName": spec.secret, "defaultMode": 420}}
    return {"name": spec.name, "persistentVolumeClaim": {"claimName": spec.pvc}}


def build_template(main: dict[str, Any], extras: PodTemplateExtras, labels: dict[str, str], *,
                   service_account: str, restart_policy: str = "Always") -> dict[str, Any]:
    """A pod template: init containers (native sidecars among them), the main container, classic sidecars."""
    image = main["image"]
    spec: dict[str, Any] = {}
    if extras.init_containers:
        spec["initContainers"] = [build_container(c, c.image or image, restart_policy=c.restart_policy)
                                  for c in extras.init_containers]
    spec["containers"] = [main, *(build_container(c, c.image or image) for c in extras.sidecars)]
    if extras.volumes:
        spec["volumes"] = [_volume(v) for v in extras.volumes]
    spec.update({
        "restartPolicy": restart_policy, "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": service_account, "serviceAccount": service_account, "securityContext": {},
        "schedulerName": "default-scheduler",
    })
    if extras.priority_class:
        spec["priorityClassName"] = extras.priority_class
    if extras.node_selector:
        spec["nodeSelector"] = dict(extras.node_selector)
    if extras.tolerations:
        spec["tolerations"] = [dict(t) for t in extras.tolerations]
    names = [c["name"] for c in (*spec.get("initContainers", ()), *spec["containers"])]
    if len(set(names)) != len(names):
        raise ValueError(f"container names repeat in a pod: {names}")
    mounted = {m["name"] for c in (*spec.get("initContainers", ()), *spec["containers"])
               for m in c.get("volumeMounts", ())}
    unknown = mounted - {v["name"] for v in spec.get("volumes", ())}
    if unknown:
        raise ValueError(f"containers mount volumes that are not declared: {sorted(unknown)}")
    return {"metadata": {"creationTimestamp": None, "labels": dict(labels)}, "spec": spec}


def _amount(value: Any) -> Decimal:
    try:
        return parse_quantity(str(value))
    except QuantityError as exc:
        raise ValueError(f"not a quantity: {value!r}") from exc


def qos_class(pod_spec: dict[str, Any]) -> str:
    """The kubelet's `GetPodQOS`: over every container (init ones too), only cpu and memory. Guaranteed
    when every container limits both and the summed requests equal the summed limits; BestEffort when
    nothing is requested or limited; Burstable otherwise."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for container in (*pod_spec.get("initContainers", ()), *pod_spec.get("containers", ())):
        resources = container.get("resources") or {}
        for name, value in (resources.get("requests") or {}).items():
            if name in ("cpu", "memory") and _amount(value) != 0:
                requests[name] = requests.get(name, Decimal(0)) + _amount(value)
        container_limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in ("cpu", "memory")}
        for name, value in container_limits.items():
            if _amount(value) != 0:
                limits[name] = limits.get(name, Decimal(0)) + _amount(value)
        if set(container_limits) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


# The classes every cluster has (the API server creates them).
_SYSTEM_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}


class Priorities:
    """Priority admission: a pod's class resolves to its value and preemption policy; a pod without one
    gets the global default class, or priority 0."""

    def __init__(self, classes: list[PriorityClassSpec]) -> None:
        self._classes = {name: (value, "PreemptLowerPriority") for name, value in _SYSTEM_CLASSES.items()}
        self._default: str | None = None
        for spec in classes:
            if spec.name in self._classes:
                raise ValueError(f"priority_classes: {spec.name} is listed twice (or is a built-in class)")
            self._classes[spec.name] = (spec.value, spec.preemption_policy)
            if spec.global_default:
                if self._default is not None:
                    raise ValueError(f"priority_classes: both {self._default} and {spec.name} are the global default")
                self._default = spec.name

    def admit(self, pod_spec: dict[str, Any], *, owner: str) -> None:
        """Set `priorityClassName`, `priority` and `preemptionPolicy` on a pod's spec, as admission does."""
        name = pod_spec.get("priorityClassName") or self._default
        if name is None:
            pod_spec["priority"] = 0
            pod_spec["preemptionPolicy"] = "PreemptLowerPriority"
            return
        if name not in self._classes:
            raise ValueError(f"{owner}: no PriorityClass with name {name} was found")
        value, policy = self._classes[name]
        pod_spec["priorityClassName"] = name
        pod_spec["priority"] = value
        pod_spec["preemptionPolicy"] = policy


@dataclass(frozen=True)
class PodOwner:
    """What a pod takes from the controller that made it."""

    namespace: str
    template: dict[str, Any]
    owner_ref: dict[str, Any]
    generate_name: str | None
    what: str  # for error messages: "deployments: api" / "workloads: Job nightly"


def _terminated(reason: str, exit_code: int, started: str | None, finished: str | None,
                message: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code, "reason": reason}
    if message:
        state["message"] = message
    state.update({"startedAt": started, "finishedAt": finished})
    return {"terminated": state}


class PodBuilder:
    """Builds pods and their events from pod groups, for any owner."""

    def __init__(self, *, now: datetime, image_digests: dict[str, str], priorities: Priorities) -> None:
        self.now = now
        self.image_digests = image_digests
        self.priorities = priorities
        self.stats: dict[tuple[str, str], PodStatsSpec] = {}  # (namespace, pod) -> the kubelet's figures

    def pod(self, owner: PodOwner, group: PodGroupBase, name: str, index: int,
            extra_labels: dict[str, str] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The `index`th pod of a group, named `name`."""
        template = owner.template
        namespace = owner.namespace
        created = group.created + timedelta(seconds=group.stagger * index)
        node = group.nodes[index % len(group.nodes)] if group.nodes else None
        spec = {k: (list(v) if isinstance(v, list) else v) for k, v in template["spec"].items()}
        main = spec["containers"][0]
        image = main["image"]
        ip = ip_for(f"pod/{namespace}/{name}", "10.0") if node and group.phase == "Running" else None
        labels = {**template["metadata"]["labels"], **(extra_labels or {})}
        meta = object_meta(name, namespace, created, "Pod", labels=labels,
                           annotations=template["metadata"].get("annotations"))
        if owner.generate_name:
            meta["generateName"] = owner.generate_name
        meta["ownerReferences"] = [dict(owner.owner_ref)]
        if group.stats is not None:
            self.stats[(namespace, name)] = group.stats
        # The template's own, then the two the DefaultTolerationSeconds admission plugin adds to every pod.
        spec["tolerations"] = [*(template["spec"].get("tolerations") or ()),
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
        ]
        self.priorities.admit(spec, owner=owner.what)
        if node:
            spec["nodeName"] = node
        started = ts(created + timedelta(seconds=2)) if node else None
        fmt = {"pod": name, "node": node or "", "image": image, "namespace": namespace,
               "container": main["name"], "ip": ip or "", "uid": meta["uid"]}
        status: dict[str, Any] = {"phase": group.phase, "qosClass": qos_class(spec)}
        if group.pod_reason:
            status["reason"] = group.pod_reason
        if group.pod_message:
            status["message"] = group.pod_message.format(**fmt)
        scheduled_at = ts(created + timedelta(seconds=1))
        conditions: list[dict[str, Any]] = []
        if node is None:
            conditions.append({
                "type": "PodScheduled", "status": "False", "lastProbeTime": None, "lastTransitionTime": ts(created),
                "reason": "Unschedulable",
                "message": group.unschedulable_message or "0/6 nodes are available: 6 Insufficient cpu.",
            })
        else:
            ready = group.ready and group.phase == "Running"
            not_ready = {} if ready else {"reason": "ContainersNotReady",
                                          "message": f"containers with unready status: [{main['name']}]"}
            conditions.extend([
                {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": scheduled_at},
                {"type": "Ready", "status": "True" if ready else "False", "lastProbeTime": None,
                 "lastTransitionTime": scheduled_at, **not_ready},
                {"type": "ContainersReady", "status": "True" if ready else "False", "lastProbeTime": None,
                 "lastTransitionTime": scheduled_at, **not_ready},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": scheduled_at},
            ])
            status["hostIP"] = ip_for(f"host/{node}")
            if ip:
                status["podIP"] = ip
                status["podIPs"] = [{"ip": ip}]
            status["startTime"] = ts(created)
            if spec.get("initContainers"):
                status["initContainerStatuses"] = [
                    self._init_status(c, namespace, name, started) for c in spec["initContainers"]]
            status["containerStatuses"] = [self._main_status(group, main, started, namespace, name, fmt)] + [
                self._sidecar_status(c, group, namespace, name, started) for c in spec["containers"][1:]]
        status["conditions"] = conditions
        pod = {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": status}
        events = []
        for template_event in group.events:
            first = created + timedelta(seconds=template_event.at)
            last = created + timedelta(seconds=template_event.last if template_event.last is not None
                                       else template_event.at)
            events.append(build_event(
                kind="Pod", name=name, namespace=namespace, reason=template_event.reason,
                message=_substitute(template_event.message, fmt, owner.what), type_=template_event.type, first=first, last=last,
                count=template_event.count, component=template_event.component, host=node,
                field_path=f"spec.containers{{{main['name']}}}", involved_uid=meta["uid"], api=template_event.api,
            ))
        return pod, events

    def _running_ids(self, status: dict[str, Any], image: str, namespace: str, pod: str, container: str) -> None:
        digest = self.image_digests.get(image) or "sha256:" + hashlib.sha256(image.encode()).hexdigest()
        status["imageID"] = f"{repository_of(image)}@{digest}"
        seed = f"{namespace}/{pod}" + (f"/{container}" if container else "")
        status["containerID"] = "containerd://" + hashlib.sha256(seed.encode()).hexdigest()

    def _main_status(self, group: PodGroupBase, container: dict[str, Any], started: str | None, namespace: str,
                     pod_name: str, fmt: dict[str, str]) -> dict[str, Any]:
        image = container["image"]
        status: dict[str, Any] = {
            "name": container["name"], "image": image, "imageID": "", "ready": group.ready and group.phase == "Running",
            "restartCount": group.restarts, "started": group.phase == "Running" and group.waiting is None,
        }
        if group.waiting:
            waiting = {"reason": group.waiting}
            if group.waiting_message:
                waiting["message"] = group.waiting_message.format(**fmt)
            status["state"] = {"waiting": waiting}
        elif group.terminated or group.phase in ("Failed", "Succeeded"):
            succeeded = group.phase == "Succeeded" and not group.terminated
            default_code = 0 if succeeded else 137
            status["state"] = _terminated(group.terminated or ("Completed" if succeeded else "Error"),
                                          group.exit_code if group.exit_code is not None else default_code,
                                          started, ts(self.now))
        else:
            status["state"] = {"running": {"startedAt": started}}
        if group.waiting is None or group.waiting == "CrashLoopBackOff":
            self._running_ids(status, image, namespace, pod_name, "")
        if group.last_state is not None:
            last = group.last_state
            status["lastState"] = _terminated(last.reason, last.exit_code, ts(last.started), ts(last.finished),
                                              last.message)
        elif group.last_terminated:
            code = group.last_exit_code if group.last_exit_code is not None else 1
            status["lastState"] = _terminated(group.last_terminated, code, started, started)
        else:
            status["lastState"] = {}
        return status

    def _sidecar_status(self, container: dict[str, Any], group: PodGroupBase, namespace: str, pod_name: str,
                        started: str | None) -> dict[str, Any]:
        """A classic sidecar runs while its pod does."""
        running = group.phase == "Running"
        status: dict[str, Any] = {"name": container["name"], "image": container["image"], "imageID": "",
                                  "ready": running, "restartCount": 0, "started": running}
        if running:
            status["state"] = {"running": {"startedAt": started}}
        else:
            status["state"] = _terminated("Completed", 0, started, ts(self.now))
        status["lastState"] = {}
        self._running_ids(status, container["image"], namespace, pod_name, container["name"])
        return status

    def _init_status(self, container: dict[str, Any], namespace: str, pod_name: str,
                     started: str | None) -> dict[str, Any]:
        """An init container has completed; a native sidecar (restartPolicy Always) keeps running."""
        sidecar = container.get("restartPolicy") == "Always"
        status: dict[str, Any] = {"name": container["name"], "image": container["image"], "imageID": "",
                                  "ready": sidecar, "restartCount": 0, "started": sidecar}
        status["state"] = ({"running": {"startedAt": started}} if sidecar
                           else _terminated("Completed", 0, started, started))
        status["lastState"] = {}
        self._running_ids(status, container["image"], namespace, pod_name, container["name"])
        return status


def _substitute(template: str, fmt: dict[str, str], what: str) -> str:
    try:
        return template.format(**fmt)
    except (KeyError, AttributeError, IndexError, ValueError) as exc:
        raise ValueError(f"{what}: event message {template!r}: {{{exc}}} is not one of "
                         f"{{{'}, {'.join(fmt)}}}; write {{{{ and }}}} for literal braces") from None


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
