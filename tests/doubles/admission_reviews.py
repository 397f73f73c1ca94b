"""AdmissionReview v1 bodies as the API server sends them (admission.k8s.io/v1, a real Deployment's shape)."""

from __future__ import annotations

import copy
import uuid
from typing import Any


def workload(image: str, *, kind: str = "Deployment", name: str = "api", namespace: str = "prod",
             init_image: str | None = None, replicas: int = 3, annotations: dict[str, str] | None = None,
             sidecar: str | None = None, affinity: dict[str, Any] | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [{"name": "app", "image": image, "ports": [{"containerPort": 8080}],
                                         "resources": {"requests": {"cpu": "100m"}}}]
    if sidecar:
        containers.append({"name": "proxy", "image": sidecar})
    pod_spec: dict[str, Any] = {"containers": containers}
    if affinity:
        pod_spec["affinity"] = affinity
    if init_image:
        pod_spec["initContainers"] = [{"name": "migrate", "image": init_image}]
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}
    if kind != "DaemonSet":
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "generation": 4,
                         "annotations": dict(annotations or {}), "labels": {"app": name}},
            "spec": spec}


def review(new: dict[str, Any] | None, old: dict[str, Any] | None = None, *, operation: str | None = None,
           uid: str | None = None, user: str = "alice@example.com", dry_run: bool = False) -> dict[str, Any]:
    subject = new or old
    assert subject is not None
    kind = subject["kind"]
    resource = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}.get(kind, "x")
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid or str(uuid.uuid4()),
            "kind": {"group": "apps", "version": "v1", "kind": kind},
            "resource": {"group": "apps", "version": "v1", "resource": resource},
            "requestKind": {"group": "apps", "version": "v1", "kind": kind},
            "requestResource": {"group": "apps", "version": "v1", "resource": resource},
            "name": subject["metadata"]["name"],
            "namespace": subject["metadata"]["namespace"],
            "operation": operation or ("UPDATE" if old is not None else "CREATE"),
            "userInfo": {"username": user, "uid": "u-1", "groups": ["system:authenticated"]},
            "object": copy.deepcopy(new),
            "oldObject": copy.deepcopy(old),
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions" if old else "CreateOptions",
                        "fieldManager": "kubectl-client-side-apply"},
        },
    }
