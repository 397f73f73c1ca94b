"""`coroner gate --deployed` on a StatefulSet and a DaemonSet, in-process against the sim through the
official kubernetes client, the images in the loopback OCI registry double.

The SRE's answers, written before the code:
- data/kafka, a StatefulSet of 3 on the two `pool: data` nodes (70 % of a 20 MiB imagefs) that an HPA
  can take to 6: its grown image (4 MB, nine times v1) lands 3 pods on each data node and pushes both past
  the image-GC high threshold and the eviction threshold. The two `pool: web` nodes, fuller still (84 %),
  are not its nodes and are not in the evidence. The same image named `data/kafka` (bare) is found as the
  StatefulSet, and the output says so.
- logging/fluent-bit, a DaemonSet on every node that takes it: the data, web and plain nodes, the GPU node
  whose `dedicated=gpu` taint it tolerates and the cordoned node (a DaemonSet's pods ignore cordoning),
  not the node tainted `dedicated=db` it does not tolerate. At 70 % and more, one 4 MB pull each crosses
  both thresholds on the nine: its reach is nine, one pod per node, not an HPA's.
- A name that is none of the three kinds is a first deploy: the candidate is judged alone, with the note.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.sim.scenario import parse_scenario
from bot.sim.server import running_sim
from tests.doubles.images import RegistryDouble, tar_bytes

KB = 1000
HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:base in / "}, {"created_by": "/bin/sh -c #(nop) COPY dir:src in /app "}]
BASE = tar_bytes([("bin/", None), ("bin/sh", random.Random(0).randbytes(150 * KB))])
DATA, WEB = ("data-1", "data-2"), ("web-1", "web-2")
PLAIN, GPU, CORDONED, DB = ("a-1", "a-2", "a-3"), "gpu-1", "cordoned-1", "db-1"
DAEMON_NODES = (*DATA, *WEB, *PLAIN, GPU, CORDONED)  # every node but the one whose taint it does not tolerate


def _layer(seed: int, size: int) -> bytes:
    return tar_bytes([("app/", None), ("app/blob", random.Random(seed).randbytes(size))])  # incompressible


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryDouble]:
    double = RegistryDouble()
    double.add_image("app", "v1", [BASE, _layer(1, 300 * KB)], HISTORY)
    double.add_image("app", "v2", [BASE, _layer(2, 4000 * KB)], HISTORY)  # 9x, +3.7 MB
    yield double
    double.close()


def ref(registry: RegistryDouble, tag: str) -> str:
    return f"127.0.0.1:{registry.port}/app:{tag}"


def _node(name: str, used: str, **extra: object) -> dict[str, object]:
    return {"name": name, "created": "2024-05-01T00:00:00Z",
            "capacity": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "20Mi", "pods": "110"},
            "nodefs": {"capacity": "20Mi", "used": "20%"}, "imagefs": {"capacity": "20Mi", "used": used}, **extra}


def _scenario(path: Path, registry: RegistryDouble, *, forbidden: tuple[dict[str, str], ...] = ()) -> object:
    v1 = ref(registry, "v1")
    data = {
        "name": "gate-kinds", "now": "2024-05-14T02:38:00Z", "namespaces": ["data", "logging"],
        "nodes": [
            *(_node(n, "70%", labels={"pool": "data"}) for n in DATA),
            *(_node(n, "84%", labels={"pool": "web"}) for n in WEB),
            *(_node(n, "80%") for n in PLAIN),
            _node(GPU, "80%", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
            _node(CORDONED, "80%", unschedulable=True),
            _node(DB, "80%", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
        ],
        "workloads": [
            {"kind": "StatefulSet", "name": "kafka", "namespace": "data", "created": "2024-01-01T00:00:00Z",
             "image": v1, "container": {"name": "kafka"}, "replicas": 3, "node_selector": {"pool": "data"},
             "pods": [{"count": 3, "nodes": list(DATA), "created": "2024-05-01T00:01:00Z"}]},
            {"kind": "DaemonSet", "name": "fluent-bit", "namespace": "logging", "created": "2024-01-01T00:00:00Z",
             "image": v1, "container": {"name": "fluent-bit"},
             "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
             "pods": [{"count": len(DAEMON_NODES), "nodes": list(DAEMON_NODES), "created": "2024-05-01T00:01:00Z"}]},
        ],
        "deployments": [{
            "name": "connect", "namespace": "data", "created": "2024-01-01T00:00:00Z", "labels": {"app": "connect"},
            "replicas": 1, "revisions": [{"revision": 1, "image": v1, "created": "2024-05-01T00:00:00Z", "replicas": 1}],
            "pods": [{"revision": 1, "count": 1, "nodes": [DATA[0]], "created": "2024-05-01T00:01:00Z"}],
        }],
        "rbac": {"forbidden": list(forbidden)},
        "hpas": [{"name": "kafka", "namespace": "data", "target": "kafka", "target_kind": "StatefulSet",
                  "created": "2024-01-01T00:00:00Z", "min_replicas": 3, "max_replicas": 6, "current_replicas": 3,
                  "desired_replicas": 3}],
    }
    return parse_scenario(yaml.safe_load(yaml.safe_dump(data)), source=path)


@pytest.fixture(scope="module")
def kubeconfig(registry: RegistryDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("gate-kinds")
    with running_sim(_scenario(where / "scenario.yaml", registry)) as sim:
        yield sim.write_kubeconfig(where / "kubeconfig")


def gate(kubeconfig: Path, image: str, deployed: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["gate", image, "--deployed", deployed, "--kubeconfig", str(kubeconfig),
                                       "--format", "json"])
    assert result.output.startswith("{"), result.output
    return result.exit_code, json.loads(result.output)


def _pull_pressure(decision: dict) -> dict:
    (reason,) = decision["reasons"]  # growth stays under the default 100 MB: only the disks fail it
    assert reason["code"] == "pull-pressure"
    return reason["evidence"]


def test_a_statefulsets_grown_image_fails_the_disks_of_its_own_nodes_at_the_hpas_max(registry, kubeconfig):
    code, decision = gate(kubeconfig, ref(registry, "v2"), "data/statefulset/kafka")

    assert code == 1, decision
    assert decision["reference"] == ref(registry, "v1")  # the image the StatefulSet runs now
    ev = _pull_pressure(decision)
    assert ev["workload"] == "StatefulSet data/kafka" and ev["max_replicas"] == 6
    assert ev["nodes_receiving"] == 2  # its nodeSelector: the fuller web nodes are not its nodes
    assert sorted(n["node"] for n in ev["nodes"]) == sorted(DATA)
    for node in ev["nodes"]:
        assert node["pods"] == 3 and set(node["crosses"]) == {"image-gc-high", "imagefs-eviction"}
    assert any("HorizontalPodAutoscaler kafka can scale StatefulSet kafka to 6" in n for n in decision["notes"])
    # The image it runs now fits: the same nodes, the same reach, nothing to refuse.
    assert gate(kubeconfig, ref(registry, "v1"), "data/statefulset/kafka")[0] == 0


def test_a_bare_name_that_is_a_statefulset_is_found_as_one_and_said_so(registry, kubeconfig):
    code, decision = gate(kubeconfig, ref(registry, "v2"), "data/kafka")

    assert code == 1, decision
    assert _pull_pressure(decision)["workload"] == "StatefulSet data/kafka"
    assert "--deployed data/kafka is the StatefulSet data/kafka (no Deployment of that name)" in decision["notes"]
    assert decision["reasons"] == gate(kubeconfig, ref(registry, "v2"), "data/sts/kafka")[1]["reasons"]


@pytest.mark.parametrize("deployed", ["logging/daemonset/fluent-bit", "logging/fluent-bit"])
def test_a_daemonsets_image_is_judged_on_every_node_its_pods_would_run_on(registry, kubeconfig, deployed):
    code, decision = gate(kubeconfig, ref(registry, "v2"), deployed)

    assert code == 1, decision
    ev = _pull_pressure(decision)
    assert ev["workload"] == "DaemonSet logging/fluent-bit"
    # Tolerated taint and cordon in, untolerated taint out; one pod per node, whatever its pods' count.
    assert sorted(n["node"] for n in ev["nodes"]) == sorted(DAEMON_NODES)
    assert ev["max_replicas"] == ev["nodes_receiving"] == 9
    for node in ev["nodes"]:
        assert node["pods"] == 1 and set(node["crosses"]) == {"image-gc-high", "imagefs-eviction"}
    if "/daemonset/" not in deployed:
        assert ("--deployed logging/fluent-bit is the DaemonSet logging/fluent-bit "
                "(no Deployment or StatefulSet of that name)") in decision["notes"]


@pytest.mark.parametrize(("deployed", "sought"), [
    ("data/zookeeper", "no Deployment, StatefulSet or DaemonSet data/zookeeper"),
    ("data/daemonset/kafka", "no DaemonSet data/kafka"),  # kafka is a StatefulSet: the kind given is the kind read
])
def test_a_workload_that_does_not_exist_is_a_first_deploy_judged_alone(registry, kubeconfig, deployed, sought):
    code, decision = gate(kubeconfig, ref(registry, "v2"), deployed)

    assert code == 0, decision  # nothing critical inside, nothing to grow from, no pressure to weigh
    assert decision["reference"] is None and decision["reasons"] == []
    (note,) = [n for n in decision["notes"] if n.startswith(sought)]
    assert "(a first deploy?): the candidate is judged alone, without growth or pull pressure" in note


@pytest.mark.parametrize("deployed", ["data/pod/kafka", "data/statefulset/kafka/0", "data//kafka", "kafka"])
def test_a_malformed_workload_is_refused_in_one_line(registry, kubeconfig, deployed):
    result = CliRunner().invoke(main, ["gate", ref(registry, "v2"), "--deployed", deployed,
                                       "--kubeconfig", str(kubeconfig), "--fail-open"])

    assert result.exit_code == 2  # a typo is not an outage: --fail-open does not pass it
    (line,) = result.output.strip().splitlines()
    assert "--deployed takes NAMESPACE/NAME or NAMESPACE/KIND/NAME" in line and repr(deployed) in line


def test_a_kind_the_gate_may_not_read_is_not_taken_for_a_first_deploy(registry, tmp_path):
    """Without `get statefulsets` (a name is read by a GET), a bare name that is no Deployment may still be a StatefulSet: judging
    the image alone would pass what was not compared. A Deployment is found before that question."""
    scenario = _scenario(tmp_path / "scenario.yaml", registry,
                         forbidden=({"verb": "get", "resource": "statefulsets", "namespace": "data"},))
    with running_sim(scenario) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        runs = {deployed: CliRunner().invoke(main, ["gate", ref(registry, "v2"), "--deployed", deployed,
                                                    "--kubeconfig", str(kubeconfig), "--format", "json"])
                for deployed in ("data/kafka", "data/statefulset/kafka", "data/connect")}

    for deployed in ("data/kafka", "data/statefulset/kafka"):
        assert runs[deployed].exit_code == 2, runs[deployed].output
        (line,) = runs[deployed].output.strip().splitlines()
        assert "could not decide: cannot read the cluster" in line and "statefulsets" in line
    found = json.loads(runs["data/connect"].output)
    assert found["reference"] == ref(registry, "v1")
    assert "--deployed data/connect is the Deployment data/connect" in found["notes"]
