"""`coroner diagnose` when one thing it reads does not answer: a registry that accepts and never answers,
one that trickles a layer a byte every half second, an API server whose one list hangs. The check that
waits on it ends at its deadline with a `check-timeout` that says what it was waiting for; the other
checks report as usual. The deadlines are set small through the playbooks directory."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.sim.server import SimServer, running_sim
from tests.doubles.images import RegistryDouble, sha
from tests.doubles.stalling_proxy import stalling_proxy

SERVICE = "notification-worker"
IMAGE = ("notification-worker", "2024.10.30-1")  # revision 15's image in config-change-crashloop
SHORT = 1.0  # the deadline of the check expected to time out
ROOMY = 20.0  # the other checks': the sim answers them in well under this


def playbooks(tmp_path: Path, short: str) -> Path:
    """The `diagnose` playbook's checks, `short` with a deadline of SHORT seconds."""
    directory = tmp_path / "playbooks"
    directory.mkdir()
    checks = ["nodes", "disk", "workload", "rollout", "neighbours", "hpa", "image", "dockerfile"]
    book = {"name": "diagnose", "triggers": ["diagnose"], "timeout_seconds": 2 * ROOMY,
            "check_timeout_seconds": ROOMY,
            "checks": [{"check": c, **({"timeout_seconds": SHORT} if c == short else {})} for c in checks]}
    (directory / "diagnose.yaml").write_text(yaml.safe_dump(book))
    return directory


@pytest.fixture
def sim() -> Iterator[SimServer]:
    with running_sim("config-change-crashloop") as server:
        yield server


def diagnose(kubeconfig: Path, env: dict[str, str]) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["diagnose", SERVICE, "--kubeconfig", str(kubeconfig), "--format", "json"],
                                env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def timeouts(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in out["findings"] if f["rule"] == "check-timeout"]


def assert_the_rest_reported(out: dict[str, Any], late: str) -> None:
    """`late` is the only check with a gap, and the incident's own answer is there: revision 15's pods
    crash-loop (the workload check), revision 14 is the rollback target (the rollout check)."""
    gaps = [(f["rule"], f["evidence"]["check"]) for f in out["findings"]
            if f["rule"] in ("check-timeout", "check-failed", "check-forbidden")]
    assert gaps == [("check-timeout", late)]
    assert "crashloop" in {f["rule"] for f in out["findings"]}
    assert out["rollback"]["recommended"] and out["rollback"]["revision"] == 14, out["rollback"]


def test_a_registry_that_accepts_and_never_answers_ends_the_image_check_at_its_deadline(sim, tmp_path):
    registry = RegistryDouble()
    # The current image's manifest hangs; the previous one (read for its size too) is answered at once.
    registry.stall_references = {IMAGE[1]}
    try:
        env = {"CORONER_PLAYBOOKS_DIR": str(playbooks(tmp_path, "image")),
               "CORONER_REGISTRY_MIRRORS": f"registry.internal:5000=http://127.0.0.1:{registry.port}"}
        out = diagnose(sim.write_kubeconfig(tmp_path / "config"), env)
    finally:
        registry.close()
    (late,) = timeouts(out)
    assert late["evidence"]["check"] == "image" and late["evidence"]["timeout_seconds"] == SHORT
    assert late["evidence"]["doing"] == (f"waiting for registry 127.0.0.1:{registry.port} "
                                         "(mirror of registry.internal:5000)")
    assert f"while waiting for registry 127.0.0.1:{registry.port}" in late["title"]
    assert any(path.startswith(f"/v2/{IMAGE[0]}/manifests/") for path, _ in registry.seen)
    assert_the_rest_reported(out, "image")


def _layer(size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("app/data.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(b"x" * size))
    return buffer.getvalue()


def test_a_registry_that_trickles_a_layer_ends_the_image_check_at_its_deadline(sim, tmp_path):
    blob = _layer(4096)  # ten thousand half-seconds at a byte each: only the deadline ends this read
    sent: list[int] = []

    def trickle() -> Iterator[bytes]:
        for index in range(len(blob)):
            time.sleep(0.5)
            sent.append(index)
            yield blob[index:index + 1]

    registry = RegistryDouble()
    registry.add_image(IMAGE[0], IMAGE[1], [], [{"created_by": "/bin/sh -c #(nop) COPY dir:x in /app"}],
                       streamed=[(sha(blob), len(blob), trickle)])
    try:
        env = {"CORONER_PLAYBOOKS_DIR": str(playbooks(tmp_path, "image")),
               "CORONER_REGISTRY_MIRRORS": f"registry.internal:5000=http://127.0.0.1:{registry.port}"}
        out = diagnose(sim.write_kubeconfig(tmp_path / "config"), env)
    finally:
        registry.close()
    (late,) = timeouts(out)
    assert late["evidence"]["doing"] == (f"reading layer 0 ({sha(blob)}) of {IMAGE[0]} "
                                         f"from 127.0.0.1:{registry.port}")
    assert sent and len(sent) < len(blob)  # the layer was being read, a byte at a time, and was cut
    assert_the_rest_reported(out, "image")


def test_an_api_server_that_hangs_on_one_list_ends_that_check_at_its_deadline(sim, tmp_path):
    with stalling_proxy(sim.url, stall=r"/horizontalpodautoscalers") as proxy:
        kubeconfig = tmp_path / "config"
        from bot.sim.kubeconfig import write_kubeconfig

        write_kubeconfig(kubeconfig, proxy.url)
        mirror, _, sim_registry = sim.mirror_setting().partition("=")  # the images from the sim's registry
        out = diagnose(kubeconfig, {"CORONER_PLAYBOOKS_DIR": str(playbooks(tmp_path, "hpa")), mirror: sim_registry})
    assert proxy.stalled and all("horizontalpodautoscalers" in path for path in proxy.stalled)
    (late,) = timeouts(out)
    assert late["evidence"]["check"] == "hpa"
    assert late["evidence"]["doing"] == ("waiting for the API server: "
                                         "list horizontalpodautoscalers of notifications")
    assert_the_rest_reported(out, "hpa")
