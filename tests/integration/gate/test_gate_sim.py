"""`coroner gate --deployed` as a process: the images in a loopback registry, the cluster served by
`coroner sim` (an HPA'd Deployment whose nodes' imagefs is near the kubelet's thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.doubles.sim_process import sim_process
from tests.integration.gate.conftest import GateImages, coroner

pytestmark = pytest.mark.slow  # coroner gate as a process against the sim in a child process

NEAR = ("node-near-1", "node-near-2")
ROOMY = ("node-roomy-1", "node-roomy-2")


def scenario(path: Path, images: GateImages, *, forbid_summary: bool = False) -> Path:
    """Four nodes of 100 MiB imagefs (the test images are 2 MB): two at 84 %, two at 30 %."""
    old = images.reference.rsplit(":", 1)[0] + ":v0"

    def node(name: str, used: str, listed_bytes: int) -> dict[str, object]:
        return {"name": name, "created": "2024-05-01T00:00:00Z",
                "capacity": {"cpu": "8", "memory": "32Gi", "ephemeral-storage": "100Mi", "pods": "110"},
                "nodefs": {"capacity": "100Mi", "used": "20%"}, "imagefs": {"capacity": "100Mi", "used": used},
                "images": [{"names": [old], "size": listed_bytes}]}

    data = {
        "name": "gate-pressure",
        "now": "2024-05-14T02:38:00Z",
        "namespaces": ["prod"],
        "nodes": [node(n, "84%", 90 * 2**20) for n in NEAR] + [node(n, "30%", 10 * 2**20) for n in ROOMY],
        "deployments": [{
            "name": "api", "namespace": "prod", "created": "2024-01-01T00:00:00Z", "labels": {"app": "api"},
            "replicas": 4,
            "revisions": [{"revision": 1, "image": images.reference, "created": "2024-05-01T00:00:00Z", "replicas": 4}],
            "pods": [{"revision": 1, "count": 4, "nodes": list(NEAR + ROOMY), "created": "2024-05-01T00:01:00Z"}],
        }],
        "hpas": [{"name": "api", "namespace": "prod", "target": "api", "created": "2024-01-01T00:00:00Z",
                  "min_replicas": 4, "max_replicas": 12, "current_replicas": 4, "desired_replicas": 4}],
    }
    if forbid_summary:
        data["rbac"] = {"forbidden": [{"verb": "get", "resource": "nodes/proxy"}]}
    path.write_text(yaml.safe_dump(data))
    return path


def gate_deployed(images: GateImages, sim_dir: Path, *extra: str, forbid_summary: bool = False):
    with sim_process(sim_dir / "kubeconfig", scenario=scenario(sim_dir / "scenario.yaml", images,
                                                               forbid_summary=forbid_summary)) as sim:
        return coroner("gate", images.fixed, "--deployed", "prod/api", "--kubeconfig", str(sim.kubeconfig),
                       "--context", sim.context, "--format", "json", *extra)


def test_pull_pressure_fails_on_the_nodes_near_their_imagefs_thresholds(gate_images: GateImages, tmp_path: Path):
    proc = gate_deployed(gate_images, tmp_path)
    assert proc.returncode == 1, proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["reference"] == gate_images.reference  # the image the Deployment runs now
    (reason,) = decision["reasons"]  # the fixed image is no bigger: only the cluster fails it
    assert reason["code"] == "pull-pressure"
    ev = reason["evidence"]
    assert ev["workload"] == "Deployment prod/api" and ev["max_replicas"] == 12
    assert (ev["nodes_receiving"], ev["nodes_without_image"], ev["pods_pulling"]) == (4, 4, 12)
    assert ev["source"] == "summary"
    assert sorted(n["node"] for n in ev["nodes"]) == sorted(NEAR)
    for node in ev["nodes"]:
        assert node["capacity_bytes"] == 100 * 2**20 and node["pods"] == 3
        assert "image-gc-high" in node["crosses"]
    assert reason["message"].startswith("6 pods × ")
    assert "against the free imagefs on the two nodes" in reason["message"]
    assert any("HorizontalPodAutoscaler api can scale Deployment api to 12" in n for n in decision["notes"])


def test_without_nodes_proxy_the_gate_falls_back_to_status_images_and_says_so(gate_images: GateImages,
                                                                                tmp_path: Path):
    proc = gate_deployed(gate_images, tmp_path, forbid_summary=True)
    assert proc.returncode == 1, proc.stderr
    decision = json.loads(proc.stdout)
    (reason,) = decision["reasons"]
    assert reason["evidence"]["source"] == "status.images"
    # used is what status.images lists: 90 MiB of 100 MiB on the near nodes, 10 MiB on the roomy ones
    assert sorted(n["node"] for n in reason["evidence"]["nodes"]) == sorted(NEAR)
    assert all(n["used_bytes"] == 90 * 2**20 for n in reason["evidence"]["nodes"])
    assert any("status.images on 4 of 4 nodes" in n and "nodes/proxy" in n for n in decision["notes"])


def test_a_first_deploy_is_judged_alone_and_an_unreachable_cluster_cannot_decide(gate_images: GateImages,
                                                                                 tmp_path: Path):
    with sim_process(tmp_path / "kubeconfig", scenario=scenario(tmp_path / "scenario.yaml", gate_images)) as sim:
        missing = coroner("gate", gate_images.grown, "--deployed", "prod/nope", "--kubeconfig", str(sim.kubeconfig),
                          "--format", "json")
    # No workload of that name yet: nothing to compare with, no replicas to count; the candidate's own findings decide.
    assert missing.returncode == 1, missing.stderr
    decision = json.loads(missing.stdout)
    assert decision["reference"] is None and [r["code"] for r in decision["reasons"]] == ["new-critical-finding"]
    note = decision["notes"][0]
    assert "no Deployment, StatefulSet or DaemonSet prod/nope" in note and "judged alone" in note
    # the sim has stopped: its kubeconfig now points at a closed port
    gone = coroner("gate", gate_images.fixed, "--deployed", "prod/api", "--kubeconfig", str(sim.kubeconfig))
    assert gone.returncode == 2 and len(gone.stderr.strip().splitlines()) == 1
    assert gone.stderr.startswith("coroner gate: could not decide: cannot read the cluster")
    opened = coroner("gate", gate_images.fixed, "--deployed", "prod/api", "--kubeconfig", str(sim.kubeconfig),
                     "--fail-open")
    assert opened.returncode == 0 and "--fail-open" in opened.stderr
