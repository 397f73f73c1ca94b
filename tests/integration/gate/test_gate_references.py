"""`coroner gate` in-process on the references CI meets: by digest, tag and digest, a multi-arch index
judged for the nodes' platform, a reference that does not exist yet (a first release), an identical image,
a shrinking one. Images in the loopback OCI registry double (real gzip layers, served by tag and by
digest), the cluster in the sim read through the official kubernetes client."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.sim.scenario import parse_scenario
from bot.sim.server import running_sim
from tests.doubles.images import RegistryDouble, sha, tar_bytes

KB = 1000
HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:base in / "}, {"created_by": "/bin/sh -c #(nop) COPY dir:src in /app "}]
SMALL_GROWTH = ("--min-growth-bytes", "1000000")  # the images grow by megabytes, not by 100 MB


def _layer(seed: int, size: int) -> bytes:
    return tar_bytes([("app/", None), ("app/blob", random.Random(seed).randbytes(size))])  # incompressible


BASE = tar_bytes([("bin/", None), ("bin/sh", random.Random(0).randbytes(150 * KB))])


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryDouble]:
    double = RegistryDouble()
    double.add_image("app", "v1", [BASE, _layer(1, 300 * KB)], HISTORY)
    double.add_image("app", "v2", [BASE, _layer(2, 3000 * KB)], HISTORY)  # 10x: +2.7 MB
    double.add_image("app", "shrunk", [BASE, _layer(3, 100 * KB)], HISTORY)
    # Multi-arch: the arm64 build of v2 grew, the amd64 one did not.
    double.add_image("app", "v1-amd64", [BASE, _layer(1, 300 * KB)], HISTORY)
    double.add_image("app", "v1-arm64", [BASE, _layer(11, 300 * KB)], HISTORY, platform="linux/arm64")
    double.add_image("app", "v2-amd64", [BASE, _layer(4, 320 * KB)], HISTORY)
    double.add_image("app", "v2-arm64", [BASE, _layer(12, 3000 * KB)], HISTORY, platform="linux/arm64")
    double.add_index("app", "multi-v1", {"linux/amd64": "v1-amd64", "linux/arm64": "v1-arm64"})
    double.add_index("app", "multi-v2", {"linux/amd64": "v2-amd64", "linux/arm64": "v2-arm64"})
    yield double
    double.close()


def ref(registry: RegistryDouble, tag: str) -> str:
    return f"127.0.0.1:{registry.port}/app:{tag}"


def gate(*args: str) -> tuple[int, dict | str]:
    result = CliRunner().invoke(main, ["gate", *args, "--format", "json"])
    try:
        return result.exit_code, json.loads(result.output)
    except ValueError:
        return result.exit_code, result.output


def digest_of(registry: RegistryDouble, tag: str) -> str:
    return sha(registry.manifests[("app", tag)][1])


def test_a_candidate_named_by_digest_or_by_tag_and_digest_is_judged_as_by_tag(registry):
    by_tag = gate(ref(registry, "v2"), "--against", ref(registry, "v1"), *SMALL_GROWTH)
    digest = digest_of(registry, "v2")
    base = ref(registry, "v2").rsplit(":", 1)[0]
    for candidate in (f"{base}@{digest}", f"{base}:v2@{digest}"):
        code, decision = gate(candidate, "--against", ref(registry, "v1"), *SMALL_GROWTH)
        assert code == 1, decision
        assert decision["candidate"] == candidate
        assert decision["reasons"] == by_tag[1]["reasons"]  # same layers, same bytes, same reason


def test_a_reference_that_does_not_exist_leaves_the_candidate_judged_alone(registry):
    code, decision = gate(ref(registry, "v2"), "--against", ref(registry, "never-released"), *SMALL_GROWTH)

    assert code == 0, decision  # nothing critical inside, and no growth to measure against nothing
    assert decision["reference"] is None and decision["reasons"] == []
    assert decision["notes"][0].startswith("the reference does not exist, so the candidate is judged alone")
    assert "never-released not found in the registry" in decision["notes"][0]


def test_a_registry_that_does_not_answer_still_cannot_decide(registry):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    code, output = gate(ref(registry, "v2"), "--against", f"127.0.0.1:{closed}/app:v1")
    assert code == 2
    assert isinstance(output, str) and "could not decide: cannot read image" in output and "unreachable" in output


@pytest.mark.parametrize(("candidate", "why"), [("v1", "identical"), ("shrunk", "smaller")])
def test_an_identical_or_smaller_image_passes(registry, candidate, why):
    code, decision = gate(ref(registry, candidate), "--against", ref(registry, "v1"), *SMALL_GROWTH)
    assert (code, decision["verdict"], decision["reasons"]) == (0, "pass", []), why


def test_growth_just_under_either_threshold_passes_and_at_both_fails(registry):
    code, grew = gate(ref(registry, "v2"), "--against", ref(registry, "v1"), *SMALL_GROWTH)
    assert code == 1 and isinstance(grew, dict)
    evidence = grew["reasons"][0]["evidence"]
    growth, factor = evidence["growth_bytes"], evidence["bytes"] / evidence["reference_bytes"]
    at_bytes = ("--min-growth-bytes", str(growth))
    assert gate(ref(registry, "v2"), "--against", ref(registry, "v1"), *at_bytes)[0] == 1
    assert gate(ref(registry, "v2"), "--against", ref(registry, "v1"), "--min-growth-bytes", str(growth + 1))[0] == 0
    assert gate(ref(registry, "v2"), "--against", ref(registry, "v1"), *at_bytes,
                "--max-growth", f"{factor * 1.001:.6f}")[0] == 0


def _arm_cluster(path: Path, registry: RegistryDouble, *, sidecar: bool = False) -> object:
    """Three arm64 nodes with room to spare, and a Deployment running the multi-arch v1."""
    container: dict[str, object] = {"name": "app"}
    deployment: dict[str, object] = {
        "name": "api", "namespace": "prod", "created": "2024-01-01T00:00:00Z", "labels": {"app": "api"},
        "replicas": 3, "container": container,
        "revisions": [{"revision": 1, "image": ref(registry, "multi-v1"), "created": "2024-05-01T00:00:00Z",
                       "replicas": 3}],
    }
    if sidecar:  # a worker from the same image: one reference, not a choice
        deployment["sidecars"] = [{"name": "worker", "image": ref(registry, "multi-v1")}]
    data = {
        "name": "arm-pool", "now": "2024-05-14T02:38:00Z", "namespaces": ["prod"],
        "nodes": [{"name": "arm-{i}", "count": 3, "created": "2024-05-01T00:00:00Z",
                   "labels": {"kubernetes.io/arch": "arm64"},
                   "nodefs": {"capacity": "100Gi", "used": "20%"}, "imagefs": {"capacity": "100Gi", "used": "20%"}}],
        "deployments": [deployment],
    }
    return parse_scenario(yaml.safe_load(yaml.safe_dump(data)), source=path)


@pytest.mark.parametrize("sidecar", [False, True])
def test_a_multi_arch_image_is_judged_for_the_platform_the_nodes_run(registry, tmp_path, sidecar):
    with running_sim(_arm_cluster(tmp_path / "scenario.yaml", registry, sidecar=sidecar)) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        code, decision = gate(ref(registry, "multi-v2"), "--deployed", "prod/api", "--kubeconfig", str(kubeconfig),
                              *SMALL_GROWTH)

    assert code == 1, decision  # the arm64 build grew 10x; the amd64 one, the default platform, did not
    assert decision["reference"] == ref(registry, "multi-v1")
    (reason,) = decision["reasons"]
    assert reason["code"] == "image-growth" and reason["evidence"]["growth_factor"] > 5
    assert "images read for linux/arm64, the platform of the nodes that receive the pods" in decision["notes"]
    # without the cluster, the configured platform (linux/amd64) is read: that build passes
    assert gate(ref(registry, "multi-v2"), "--against", ref(registry, "multi-v1"), *SMALL_GROWTH)[0] == 0
