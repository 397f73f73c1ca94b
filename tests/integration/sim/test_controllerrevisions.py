"""A StatefulSet's and a DaemonSet's revisions as the API server serves them: ControllerRevisions read by the
unmodified official client (its own models, then our reader), tied to the workload and its pods as the
controllers tie them."""

from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim

SCENARIO = Path(__file__).parents[1] / "diagnose" / "scenarios" / "statefulset-config-crashloop.yaml"


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory):
    with running_sim(load_scenario(SCENARIO)) as sim:
        yield sim.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", context="sts")


def test_the_sdk_reads_controllerrevisions_owned_by_the_statefulset(kubeconfig):
    apps = k8s.AppsV1Api(k8s_config.new_client_from_config(config_file=str(kubeconfig), context="sts"))
    revisions = sorted(apps.list_namespaced_controller_revision("data").items, key=lambda r: r.revision)
    assert [r.revision for r in revisions] == [1, 2, 3]
    assert all(r.metadata.owner_references[0].kind == "StatefulSet" and r.metadata.owner_references[0].controller
               for r in revisions)
    assert all(r.metadata.name == f"kafka-{r.metadata.labels['controller-revision-hash']}" for r in revisions)
    # `.data` is the patch `kubectl rollout undo` applies: the whole template, replaced.
    assert revisions[2].data["spec"]["template"]["$patch"] == "replace"
    sts = apps.read_namespaced_stateful_set("kafka", "data")
    assert (sts.status.current_revision, sts.status.update_revision) == (revisions[1].metadata.name,
                                                                         revisions[2].metadata.name)
    pods = k8s.CoreV1Api(apps.api_client).list_namespaced_pod("data").items
    assert {p.metadata.name: p.metadata.labels["controller-revision-hash"] for p in pods} == {
        "kafka-0": revisions[1].metadata.name, "kafka-1": revisions[1].metadata.name,
        "kafka-2": revisions[2].metadata.name}


def test_the_reader_turns_them_into_revisions_with_their_templates(kubeconfig):
    with KubernetesClusterReader.from_kubeconfig(kubeconfig, "sts") as reader:
        revisions = reader.list_controllerrevisions("data", label_selector="app.kubernetes.io/name=kafka")
        (sts,) = reader.list_statefulsets("data")
    by_number = {r.revision: r for r in revisions}
    assert set(by_number) == {1, 2, 3}
    assert by_number[1].containers[0].image == "registry.internal:5000/kafka:3.6.1"
    assert "$patch" not in by_number[3].template
    assert by_number[3].template["spec"]["containers"][0]["envFrom"] == [{"configMapRef": {"name": "kafka-config-v5"}}]
    assert (sts.kind, sts.replicas, sts.ready_replicas, sts.update_revision) == ("StatefulSet", 3, 2, by_number[3].name)
    assert sts.template == by_number[3].template
