"""The shipped RBAC grants exactly what the reader calls, no more and no less.

Every method of `KubernetesClusterReader` is called, through the official client, against the sim,
which records each RBAC decision it makes as (verb, API group, resource). Those pairs must be the
rules of the manifest that covers the method: a new reader call without a grant fails here, and so
does a grant that no call uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.ports import ClusterNotFound
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
SCENARIO = load_scenario("registry-meltdown")
DEPLOYMENT = SCENARIO.deployments[0]["metadata"]
NAMESPACE, NAME = DEPLOYMENT["namespace"], DEPLOYMENT["name"]
NODE = SCENARIO.nodes[0]["metadata"]["name"]

Call = Callable[[KubernetesClusterReader], object]

# Each reader method, called every way the code calls it (one namespace and all namespaces), under the
# manifest that must grant it. A method missing here fails `test_every_reader_method_is_called_here`.
CALLS: dict[str, dict[str, Call]] = {
    "clusterrole-readonly.yaml": {
        "list_nodes": lambda r: r.list_nodes(),
        "list_namespaces": lambda r: r.list_namespaces(),
        "namespace_labels": lambda r: r.namespace_labels(NAMESPACE),
        "list_pods": lambda r: (r.list_pods(None), r.list_pods(NAMESPACE, label_selector=f"app={NAME}")),
        "list_events": lambda r: (r.list_events(None, field_selector="involvedObject.kind=Node"),
                                  r.list_events(NAMESPACE)),
        "get_deployment": lambda r: r.get_deployment(NAMESPACE, NAME),
        # The scenario has neither kind: the API server authorizes a GET before it answers 404.
        "get_statefulset": lambda r: absent(lambda: r.get_statefulset(NAMESPACE, NAME)),
        "get_daemonset": lambda r: absent(lambda: r.get_daemonset(NAMESPACE, NAME)),
        "list_deployments": lambda r: (r.list_deployments(None), r.list_deployments(NAMESPACE)),
        "list_replicasets": lambda r: r.list_replicasets(NAMESPACE),
        "list_hpas": lambda r: r.list_hpas(NAMESPACE),
        "list_jobs": lambda r: (r.list_jobs(None), r.list_jobs(NAMESPACE)),
        "list_statefulsets": lambda r: (r.list_statefulsets(None), r.list_statefulsets(NAMESPACE)),
        "list_daemonsets": lambda r: (r.list_daemonsets(None), r.list_daemonsets(NAMESPACE)),
        "list_controllerrevisions": lambda r: r.list_controllerrevisions(NAMESPACE, label_selector=f"app={NAME}"),
        # /version is a non-resource URL every authenticated user may read (system:public-info-viewer).
        "server_version": lambda r: r.server_version(),
    },
    "opt-in/node-proxy.yaml": {
        "node_fs_summary": lambda r: (r.node_fs_summary(NODE), r.node_fs_summary(NODE, pods=True)),
    },
}
# Building and closing a reader is not a call to the API.
LIFECYCLE = {"from_kubeconfig", "in_cluster", "connect", "close", "within"}  # no request of their own


def absent(call: Callable[[], object]) -> None:
    with pytest.raises(ClusterNotFound):
        call()


def granted(manifest: str) -> set[tuple[str, str, str]]:
    """(verb, API group, resource) for every rule of the manifest's ClusterRole, rules expanded."""
    documents = [d for d in yaml.safe_load_all((DEPLOY / manifest).read_text()) if d]
    (role,) = [d for d in documents if d["kind"] == "ClusterRole"]
    return {
        (verb, group, resource)
        for rule in role["rules"]
        for verb in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


def test_every_reader_method_is_called_here():
    methods = {name for name in vars(KubernetesClusterReader) if not name.startswith("_")} - LIFECYCLE
    listed = {name for calls in CALLS.values() for name in calls}
    assert methods == listed, "add the new method to CALLS, under the manifest that grants it"


@pytest.mark.parametrize("manifest", sorted(CALLS))
def test_the_role_grants_exactly_what_the_reader_calls(tmp_path, manifest):
    with running_sim(SCENARIO) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(kubeconfig) as reader:
            for call in CALLS[manifest].values():
                call(reader)
        used = {(verb, group, resource) for verb, group, resource, _ in sim.api.rbac_checks}
    assert used == granted(manifest)
