"""`ScenarioClusterReader`: the `ClusterReader` port answered in-process by the sim, without sockets.

For fast unit tests of checks and the engine: it goes through the same routing, selectors, RBAC and
`Status` errors as the HTTP sim (`SimApi`), and the same JSON conversions as `KubernetesClusterReader`,
so a check behaves identically against both. Integration tests should still use the real client.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from bot.cluster import convert
from bot.cluster.snapshots import (
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    HpaSnapshot,
    NodeFsSummary,
    NodeSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
    WorkloadSnapshot,
)
from bot.deadline import Deadline
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReadError
from bot.sim.model import Scenario
from bot.sim.server import SimApi


class ScenarioClusterReader:
    def __init__(self, scenario: Scenario, *, context: str | None = "coroner-sim") -> None:
        self.context = context
        self.scenario = scenario
        self._api = SimApi(scenario)
        self.clock = self._api  # the scenario's time, as the HTTP sim dates its answers

    def within(self, deadline: Deadline) -> ScenarioClusterReader:
        return self  # in-process: it never waits

    def _get(self, path: str, *, what: str, verb: str, resource: str, **query: str | None) -> Any:
        params = {k: v for k, v in query.items() if v}
        target = path + ("?" + urlencode(params) if params else "")
        code, body = self._api.handle("GET", target)
        data = json.loads(body)
        if code == 200:
            return data
        message = data.get("message", "") if isinstance(data, dict) else ""
        if code == 403:
            raise ClusterForbidden(f"{what}: forbidden: needs {verb} on {resource} ({message})",
                                   verb=verb, resource=resource)
        if code == 404:
            raise ClusterNotFound(f"{what}: not found ({message})")
        raise ClusterReadError(f"{what}: HTTP {code}: {message}")

    def _items(self, path: str, *, what: str, resource: str, **query: str | None) -> list[Any]:
        return list(self._get(path, what=what, verb="list", resource=resource, **query).get("items") or ())

    def list_nodes(self) -> list[NodeSnapshot]:
        return [convert.node(n) for n in self._items("/api/v1/nodes", what="list nodes", resource="nodes")]

    def node_fs_summary(self, node: str, *, pods: bool = False) -> NodeFsSummary:
        body = self._get(f"/api/v1/nodes/{quote(node)}/proxy/stats/summary",
                         what=f"kubelet summary of node {node}", verb="get", resource="nodes/proxy")
        return convert.node_fs_summary(node, body, pods=pods)

    def list_namespaces(self) -> list[str]:
        items = self._items("/api/v1/namespaces", what="list namespaces", resource="namespaces")
        return [n["metadata"]["name"] for n in items]

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        items = self._items("/api/v1/namespaces", what=f"labels of namespace {namespace}", resource="namespaces",
                            fieldSelector=f"metadata.name={namespace}")
        if not items:
            raise ClusterNotFound(f"namespace {namespace} not found")
        return dict(items[0]["metadata"].get("labels") or {})

    def list_pods(self, namespace: str | None, *, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[PodSnapshot]:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        items = self._items(path, what=f"list pods of {namespace or 'all namespaces'}", resource="pods",
                            labelSelector=label_selector, fieldSelector=field_selector)
        return [convert.pod(p) for p in items]

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[EventSnapshot]:
        path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
        items = self._items(path, what=f"list events of {namespace or 'all namespaces'}", resource="events",
                            fieldSelector=field_selector)
        return [convert.event(e) for e in items]

    def get_deployment(self, namespace: str, name: str) -> DeploymentSnapshot:
        body = self._get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                         what=f"get deployment {namespace}/{name}", verb="get", resource="deployments")
        return convert.deployment(body)

    def list_deployments(self, namespace: str | None, *, label_selector: str | None = None
                         ) -> list[DeploymentSnapshot]:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments" if namespace else "/apis/apps/v1/deployments"
        items = self._items(path, what=f"list deployments of {namespace or 'all namespaces'}",
                            resource="deployments", labelSelector=label_selector)
        return [convert.deployment(d) for d in items]

    def list_replicasets(self, namespace: str, *, label_selector: str | None = None) -> list[ReplicaSetSnapshot]:
        items = self._items(f"/apis/apps/v1/namespaces/{namespace}/replicasets",
                            what=f"list replicasets of {namespace}", resource="replicasets",
                            labelSelector=label_selector)
        return [convert.replicaset(r) for r in items]

    def list_jobs(self, namespace: str | None) -> list[WorkloadSnapshot]:
        path = f"/apis/batch/v1/namespaces/{namespace}/jobs" if namespace else "/apis/batch/v1/jobs"
        items = self._items(path, what=f"list jobs of {namespace or 'all namespaces'}", resource="jobs")
        return [convert.workload(j, "Job") for j in items]

    def get_statefulset(self, namespace: str, name: str) -> WorkloadSnapshot:
        return self._apps_workload("statefulsets", "StatefulSet", namespace, name)

    def get_daemonset(self, namespace: str, name: str) -> WorkloadSnapshot:
        return self._apps_workload("daemonsets", "DaemonSet", namespace, name)

    def _apps_workload(self, resource: str, kind: str, namespace: str, name: str) -> WorkloadSnapshot:
        body = self._get(f"/apis/apps/v1/namespaces/{namespace}/{resource}/{name}",
                         what=f"get {kind.lower()} {namespace}/{name}", verb="get", resource=resource)
        return convert.workload(body, kind)

    def list_statefulsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self._apps_workloads("statefulsets", "StatefulSet", namespace)

    def list_daemonsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        return self._apps_workloads("daemonsets", "DaemonSet", namespace)

    def _apps_workloads(self, resource: str, kind: str, namespace: str | None) -> list[WorkloadSnapshot]:
        path = f"/apis/apps/v1/namespaces/{namespace}/{resource}" if namespace else f"/apis/apps/v1/{resource}"
        items = self._items(path, what=f"list {resource} of {namespace or 'all namespaces'}", resource=resource)
        return [convert.workload(w, kind) for w in items]

    def list_controllerrevisions(self, namespace: str, *, label_selector: str | None = None
                                 ) -> list[ControllerRevisionSnapshot]:
        items = self._items(f"/apis/apps/v1/namespaces/{namespace}/controllerrevisions",
                            what=f"list controllerrevisions of {namespace}", resource="controllerrevisions",
                            labelSelector=label_selector)
        return [convert.controller_revision(r) for r in items]

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]:
        items = self._items(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                            what=f"list horizontalpodautoscalers of {namespace}",
                            resource="horizontalpodautoscalers")
        return [convert.hpa(h) for h in items]
