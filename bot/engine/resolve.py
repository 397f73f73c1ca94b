"""Service resolution: which workload `/diagnose NAME` means.

In order: the service catalog; a Deployment, else a StatefulSet, else a DaemonSet of that name; then
workloads whose `app.kubernetes.io/name` or `app` label (on the object or in its selector) is the name,
Deployments before StatefulSets before DaemonSets, in any namespace the bot may read. A name is a
stronger match than a label: the StatefulSet `kafka` wins over a Deployment `kafka-exporter` labelled
`app=kafka`. StatefulSets and DaemonSets are listed only when no Deployment matches the name; within one
namespace, a name is read by a GET of each kind, and the kinds are listed only when none has that name.
Unknown names get the closest known names; several matches get a request to choose.
"""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.catalog import Catalog, CatalogEntry
from bot.checks.facts import get_workload, list_workloads
from bot.cluster.snapshots import ServiceWorkload
from bot.domain import Target
from bot.logs import carry_log_context
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReader, CoronerError

NAME_LABELS = ("app.kubernetes.io/name", "app")
# The kinds a service may be, in the order a name resolves to them, with the resource RBAC names.
KINDS = (("Deployment", "deployments"), ("StatefulSet", "statefulsets"), ("DaemonSet", "daemonsets"))

class UnknownService(CoronerError):
    """No workload matches; `suggestions` holds the closest names."""

    exit_code = 3

    def __init__(self, service: str, suggestions: list[str], searched: str) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown service {service!r}: no catalog entry, Deployment, StatefulSet, DaemonSet or app label matches ({searched}).{hint}")
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
    # "catalog" | "deployment name" | "statefulset name" | "daemonset name" | "label app.kubernetes.io/name" | "label app"
    via: str


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
        named = _named(cluster, namespace, service)
        if named is not None:
            return Resolution(_target(cluster, named), entry, f"{named.kind.lower()} name")
    listed: dict[str, list[ServiceWorkload]] = {}
    searched: list[str] = []
    for kind, resource in KINDS:
        try:
            found, where = _readable(cluster, kind, resource, namespace)
        except ClusterForbidden:
            if kind == "Deployment":
                raise
            searched.append(f"{resource} forbidden")  # a gap in the search, said in the error
            continue
        listed[kind] = found
        if kind == "Deployment":
            searched.insert(0, where)  # where Deployments were looked for: the others, unless said, alike
        by_name = [w for w in found if w.name == service]
        if by_name:
            return _one(service, cluster, by_name, entry, f"{kind.lower()} name")
    for label in NAME_LABELS:
        for kind, _ in KINDS:
            labelled = [w for w in listed.get(kind, ())
                        if w.labels.get(label) == service or w.selector.get(label) == service]
            if labelled:
                return _one(service, cluster, labelled, entry, f"label {label}")
    workloads = [w for found in listed.values() for w in found]
    known = {w.name for w in workloads}
    known |= {w.labels[label] for w in workloads for label in NAME_LABELS if label in w.labels}
    known |= set(catalog.names()) if catalog else set()
    raise UnknownService(service, difflib.get_close_matches(service, sorted(known), n=3, cutoff=0.5),
                         "; ".join(searched))


def _named(cluster: ClusterReader, namespace: str, service: str) -> ServiceWorkload | None:
    """The workload named `service` in `namespace`, by one GET per kind in resolution order: a namespace
    may hold hundreds of workloads, and a name is the common case. A kind the bot may not `get` is left to
    the lists below, which say when they are refused too; a refused Deployment is an error, as there."""
    for kind, _ in KINDS:
        try:
            return get_workload(cluster, kind, namespace, service)
        except ClusterNotFound:
            continue
        except ClusterForbidden:
            if kind == "Deployment":
                raise
            continue
    return None


def _target(cluster: ClusterReader, workload: ServiceWorkload) -> Target:
    return Target(cluster.context, workload.namespace, workload.kind, workload.name)


def _one(
    service: str, cluster: ClusterReader, found: list[ServiceWorkload], entry: CatalogEntry | None, via: str
) -> Resolution:
    targets = sorted({_target(cluster, w) for w in found}, key=lambda t: (t.namespace, t.name))
    if len(targets) > 1:
        raise AmbiguousService(service, targets)
    return Resolution(targets[0], entry, via)


def _readable(
    cluster: ClusterReader, kind: str, resource: str, namespace: str | None
) -> tuple[list[ServiceWorkload], str]:
    """All workloads of one kind the bot may list: cluster-wide, else namespace by namespace (skipping
    forbidden ones)."""
    if namespace is not None:
        return list(list_workloads(cluster, kind, namespace)), f"namespace {namespace}"
    try:
        return list(list_workloads(cluster, kind, None)), "all namespaces"
    except ClusterForbidden:
        pass
    namespaces = cluster.list_namespaces()

    def one(ns: str) -> list[ServiceWorkload] | None:
        try:
            return list(list_workloads(cluster, kind, ns))
        except ClusterForbidden:
            return None

    with ThreadPoolExecutor(max_workers=min(16, max(1, len(namespaces)))) as pool:
        results = list(pool.map(carry_log_context(one), namespaces))
    readable = [ns for ns, r in zip(namespaces, results) if r is not None]
    found = [w for r in results if r for w in r]
    if not readable:
        raise ClusterForbidden(f"cannot list {resource} in any namespace", verb="list", resource=resource)
    return found, f"{len(readable)} readable namespaces of {len(namespaces)}"
