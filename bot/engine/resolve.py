"""Service resolution: which workload `/diagnose NAME` means.

In order: the service catalog; a Deployment of that name; Deployments whose `app.kubernetes.io/name`
or `app` label (on the object or in its selector) is the name, in any namespace the bot may read.
Unknown names get the closest known names; several matches get a request to choose.
"""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.catalog import Catalog, CatalogEntry
from bot.cluster.snapshots import DeploymentSnapshot
from bot.domain import Target
from bot.logs import carry_log_context
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReader, CoronerError

NAME_LABELS = ("app.kubernetes.io/name", "app")


class UnknownService(CoronerError):
    """No workload matches; `suggestions` holds the closest names."""

    exit_code = 3

    def __init__(self, service: str, suggestions: list[str], searched: str) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown service {service!r}: no catalog entry, Deployment or app label matches ({searched}).{hint}")
        self.service = service
        self.suggestions = suggestions


class AmbiguousService(CoronerError):
    """Several workloads match; `choices` are `namespace/name` strings to choose from."""

    exit_code = 4

    def __init__(self, service: str, choices: list[Target]) -> None:
        listed = ", ".join(f"{t.namespace}/{t.name}" for t in choices)
        super().__init__(f"{service!r} matches {len(choices)} workloads: {listed}. Choose one with --namespace.")
        self.service = service
        self.choices = choices


class WorkloadNotFound(CoronerError):
    """The catalog (or a name) points at a workload that the cluster does not have."""

    exit_code = 3


@dataclass(frozen=True)
class Resolution:
    target: Target
    entry: CatalogEntry | None
    via: str  # "catalog" | "deployment name" | "label app.kubernetes.io/name" | "label app"


def catalog_context(catalog: Catalog, service: str) -> str | None:
    """The kubeconfig context the catalog assigns to a service, so the caller can build the right reader."""
    entry = catalog.get(service)
    return entry.context if entry else None


def resolve(
    service: str,
    *,
    cluster: ClusterReader,
    catalog: Catalog | None = None,
    namespace: str | None = None,
) -> Resolution:
    entry = catalog.get(service) if catalog else None
    if entry is not None and (namespace is None or namespace == entry.namespace):
        return Resolution(
            # The reader's context is what is actually read; the catalog's only fills in when it has none.
            Target(cluster.context or entry.context, entry.namespace, entry.workload_kind, entry.workload_name),
            entry,
            "catalog",
        )
    if namespace is not None:
        try:
            dep = cluster.get_deployment(namespace, service)
            return Resolution(_target(cluster, dep), entry, "deployment name")
        except ClusterNotFound:
            pass
    deployments, searched = _readable_deployments(cluster, namespace)
    by_name = [d for d in deployments if d.name == service]
    if by_name:
        return _one(service, cluster, by_name, entry, "deployment name")
    for label in NAME_LABELS:
        labelled = [d for d in deployments if d.labels.get(label) == service or d.selector.get(label) == service]
        if labelled:
            return _one(service, cluster, labelled, entry, f"label {label}")
    known = {d.name for d in deployments}
    known |= {d.labels[label] for d in deployments for label in NAME_LABELS if label in d.labels}
    known |= set(catalog.names()) if catalog else set()
    raise UnknownService(service, difflib.get_close_matches(service, sorted(known), n=3, cutoff=0.5), searched)


def _target(cluster: ClusterReader, dep: DeploymentSnapshot) -> Target:
    return Target(cluster.context, dep.namespace, "Deployment", dep.name)


def _one(
    service: str, cluster: ClusterReader, found: list[DeploymentSnapshot], entry: CatalogEntry | None, via: str
) -> Resolution:
    targets = sorted({_target(cluster, d) for d in found}, key=lambda t: (t.namespace, t.name))
    if len(targets) > 1:
        raise AmbiguousService(service, targets)
    return Resolution(targets[0], entry, via)


def _readable_deployments(
    cluster: ClusterReader, namespace: str | None
) -> tuple[list[DeploymentSnapshot], str]:
    """All Deployments the bot may list: cluster-wide, else namespace by namespace (skipping forbidden ones)."""
    if namespace is not None:
        return cluster.list_deployments(namespace), f"namespace {namespace}"
    try:
        return cluster.list_deployments(None), "all namespaces"
    except ClusterForbidden:
        pass
    namespaces = cluster.list_namespaces()

    def one(ns: str) -> list[DeploymentSnapshot] | None:
        try:
            return cluster.list_deployments(ns)
        except ClusterForbidden:
            return None

    with ThreadPoolExecutor(max_workers=min(16, max(1, len(namespaces)))) as pool:
        results = list(pool.map(carry_log_context(one), namespaces))
    readable = [ns for ns, r in zip(namespaces, results) if r is not None]
    found = [d for r in results if r for d in r]
    if not readable:
        raise ClusterForbidden(
            "cannot list deployments in any namespace", verb="list", resource="deployments"
        )
    return found, f"{len(readable)} readable namespaces of {len(namespaces)}"

