"""Synthetic clusters of any size for benchmarks and load tests: N nodes, about `pods_per_node` × N pods,
rollout revisions, events and a kubelet summary for every node.

The cluster always contains the outage's service (`prod/user-profile-service`, its three revisions, its
HPA and the recorded images of `registry-meltdown`), so `coroner diagnose user-profile-service` has the
same story to find at 2,000 nodes as at 6. Output is deterministic for the same arguments.
"""

from __future__ import annotations

from datetime import datetime, timedelta, UTC
from importlib import resources
from typing import Any

import yaml

from bot.sim.model import Scenario
from bot.sim.scenario import SHIPPED_PACKAGE, parse_scenario

NOW = datetime(2024, 5, 14, 3, 7, tzinfo=UTC)
TARGET = "user-profile-service"
CURRENT_IMAGE = "registry.internal:5000/user-profile-service:2024.05.14-1"
PREVIOUS_IMAGE = "registry.internal:5000/user-profile-service:2024.05.02-3"
OLDER_IMAGE = "registry.internal:5000/user-profile-service:2024.04.18-2"
_PULL_503 = ("Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image "
             "\"{image}\": failed to resolve reference \"{image}\": received unexpected HTTP status: "
             "503 Service Unavailable")


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _meltdown_images() -> list[dict[str, Any]]:
    text = (resources.files(SHIPPED_PACKAGE) / "registry-meltdown.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["images"]


def _node_name(i: int) -> str:
    return f"ip-10-{i // 62500 % 250}-{i // 250 % 250}-{i % 250 + 1}.ec2.internal"


def generate_scenario_data(*, nodes: int = 100, pods_per_node: int = 10, services: int | None = None,
                           pressure_ratio: float = 0.1, latency_ms: int = 0,
                           forbidden: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The scenario as a YAML-able mapping (write it out with `yaml.safe_dump` to keep it)."""
    if nodes < 1 or pods_per_node < 1:
        raise ValueError("nodes and pods_per_node must be at least 1")
    total_pods = nodes * pods_per_node
    target_replicas = min(30, max(3, total_pods // 20))
    services = services if services is not None else max(1, min(nodes // 2, 500))
    other_pods = max(total_pods - target_replicas - 5, services)
    node_names = [_node_name(i) for i in range(nodes)]
    pressured = set(node_names[: max(0, int(nodes * pressure_ratio))])
    created = NOW - timedelta(days=40)

    deployments: list[dict[str, Any]] = []
    node_images: dict[str, list[dict[str, Any]]] = {name: [] for name in node_names}
    cursor = 0

    def place(count: int) -> list[str]:
        nonlocal cursor
        chosen = [node_names[(cursor + j) % nodes] for j in range(count)]
        cursor += count
        return chosen

    # The outage's service: revision 4 healthy on some nodes, revision 5 slow, failing and evicted.
    healthy_nodes = place(5)
    slow_nodes = place(max(1, target_replicas // 3))
    failing_nodes = place(max(1, target_replicas - len(slow_nodes)))
    for name in set(healthy_nodes) | set(slow_nodes) | set(failing_nodes):
        node_images[name].append({"ref": CURRENT_IMAGE})
        node_images[name].append({"ref": PREVIOUS_IMAGE})
    deployments.append({
        "name": TARGET, "namespace": "prod", "created": _iso(created),
        "labels": {"app.kubernetes.io/name": TARGET, "app": TARGET},
        "selector": {"app.kubernetes.io/name": TARGET, "app": TARGET},
        "replicas": target_replicas + 5,
        "container": {"name": "app", "ports": [8080], "readiness": {"http": "/healthz"},
                      "requests": {"cpu": "500m", "memory": "768Mi"}, "limits": {"memory": "1536Mi"}},
        "revisions": [
            {"revision": 3, "image": OLDER_IMAGE, "created": "2024-04-18T09:12:44Z", "revision_history": [1]},
            {"revision": 4, "image": PREVIOUS_IMAGE, "created": "2024-05-02T14:31:09Z", "replicas": 5},
            {"revision": 5, "image": CURRENT_IMAGE, "created": "2024-05-14T02:38:03Z", "replicas": target_replicas},
        ],
        "pods": [
            {"revision": 4, "count": 5, "nodes": healthy_nodes, "created": "2024-05-02T14:31:15Z"},
            {"revision": 5, "count": len(slow_nodes), "nodes": slow_nodes, "created": "2024-05-14T02:38:04Z",
             "stagger": 3, "ready": False, "events": [
                 {"reason": "Pulling", "at": 1, "message": "Pulling image \"{image}\""},
                 {"reason": "Pulled", "at": 271, "message": "Successfully pulled image \"{image}\" in 4m12.5s "
                  "(4m30.1s including waiting). Image size: 4509715660 bytes."},
                 {"reason": "Unhealthy", "type": "Warning", "at": 312, "last": 1500, "count": 100,
                  "message": "Readiness probe failed: Get \"http://{ip}:8080/healthz\": context deadline exceeded"},
             ]},
            {"revision": 5, "count": len(failing_nodes), "nodes": failing_nodes, "created": "2024-05-14T02:58:16Z",
             "stagger": 2, "phase": "Pending", "ready": False, "waiting": "ImagePullBackOff", "events": [
                 {"reason": "Pulling", "at": 1, "message": "Pulling image \"{image}\""},
                 {"reason": "Failed", "type": "Warning", "at": 60, "last": 400, "count": 3, "message": _PULL_503},
                 {"reason": "BackOff", "at": 61, "last": 500, "count": 9,
                  "message": "Back-off pulling image \"{image}\""},
             ]},
        ],
    })

    # Everyone else: healthy services spread evenly, two revisions each.
    per_service, extra = divmod(other_pods, services)
    for k in range(services):
        count = per_service + (1 if k < extra else 0)
        if count == 0:
            continue
        name = f"svc-{k:04d}"
        image_new = f"registry.internal:5000/{name}:2024.05.{k % 13 + 1:02d}-1"
        image_old = f"registry.internal:5000/{name}:2024.04.{k % 27 + 1:02d}-2"
        placed = place(count)
        size = 120_000_000 + (k * 7_919_113) % 900_000_000
        for node in set(placed):
            node_images[node].append({"names": [image_new], "size": size})
        deployments.append({
            "name": name, "namespace": f"team-{k % 20:02d}", "created": _iso(created),
            "labels": {"app.kubernetes.io/name": name, "app": name}, "replicas": count,
            "container": {"name": "app", "ports": [8080], "readiness": {"http": "/ready"},
                          "requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "revisions": [
                {"revision": 1, "image": image_old, "created": "2024-04-20T10:00:00Z"},
                {"revision": 2, "image": image_new, "created": "2024-05-10T10:00:00Z", "replicas": count},
            ],
            "pods": [{"revision": 2, "count": count, "nodes": placed, "created": "2024-05-10T10:00:05Z",
                      "events": [{"reason": "Pulled", "at": 5, "message":
                                  "Container image \"{image}\" already present on machine"}]}],
        })

    node_specs = []
    for name in node_names:
        bad = name in pressured
        spec: dict[str, Any] = {
            "name": name, "created": _iso(created),
            "labels": {"node.kubernetes.io/instance-type": "m6i.2xlarge"},
            "capacity": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "100Gi", "pods": "110"},
            "nodefs": {"capacity": "30Gi", "used": "74%" if bad else "45%"},
            "imagefs": {"capacity": "100Gi", "used": "97%" if bad else "58%"},
            "images": node_images[name][:50],
        }
        if bad:
            spec.update({"ready": False, "not_ready_since": "2024-05-14T02:58:21Z",
                         "pressure": [{"type": "DiskPressure", "since": "2024-05-14T02:51:40Z"}]})
        node_specs.append(spec)

    events = [
        {"kind": "Node", "name": name, "reason": "FreeDiskSpaceFailed", "type": "Warning", "host": name,
         "first": "2024-05-14T02:49:10Z", "last": "2024-05-14T03:04:10Z", "count": 4,
         "message": "Failed to garbage collect required amount of images. Attempted to free 9663676416 bytes, "
                    "but only found 0 bytes eligible to free."}
        for name in sorted(pressured)
    ]
    events += [
        {"kind": "HorizontalPodAutoscaler", "name": TARGET, "namespace": "prod", "reason": "SuccessfulRescale",
         "component": "horizontal-pod-autoscaler", "first": at,
         "message": f"New size: {size}; reason: cpu resource utilization (percentage of request) above target"}
        for at, size in (("2024-05-14T02:47:30Z", 9), ("2024-05-14T02:58:15Z", 20), ("2024-05-14T03:04:41Z", 30))
    ]
    return {
        "name": f"generated-{nodes}-nodes",
        "description": f"Generated: {nodes} nodes, about {total_pods} pods, {len(deployments)} deployments.",
        "now": _iso(NOW), "latency_ms": latency_ms,
        "incident": {"service": TARGET, "namespace": "prod", "title": f"[prod] {TARGET}: 5xx rate 38%",
                     "triggered_at": "2024-05-14T03:02:11Z"},
        "rbac": {"forbidden": forbidden or []},
        "namespaces": ["prod"],
        "nodes": node_specs,
        "deployments": deployments,
        "hpas": [{"name": TARGET, "namespace": "prod", "target": TARGET, "created": _iso(created),
                  "min_replicas": 6, "max_replicas": 30, "current_replicas": 30, "desired_replicas": 30,
                  "last_scale_time": "2024-05-14T03:04:41Z", "cpu_current_utilization": 186}],
        "events": events,
        "images": _meltdown_images(),
    }


def generate_scenario(*, nodes: int = 100, pods_per_node: int = 10, services: int | None = None,
                      pressure_ratio: float = 0.1, latency_ms: int = 0,
                      forbidden: list[dict[str, str]] | None = None) -> Scenario:
    """A validated, expanded scenario of `nodes` nodes and about `pods_per_node` × `nodes` pods."""
    data = generate_scenario_data(nodes=nodes, pods_per_node=pods_per_node, services=services,
                                  pressure_ratio=pressure_ratio, latency_ms=latency_ms, forbidden=forbidden)
    return parse_scenario(data)
