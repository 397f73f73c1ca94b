"""A check's deadline really stops its work: when `diagnose` returns, no thread of the image check is
still reading from a hostile registry (one that trickles a layer forever, or never answers)."""

import threading
import time

from tests.doubles.images import file_header, pax_layer, tar_bytes

from bot.cluster.snapshots import DeploymentSnapshot
from bot.engine.diagnose import diagnose
from tests.doubles.cluster_reader import FakeClusterReader, container, pod
from bot.engine.playbook import parse_playbook
from bot.images.registry_reader import RegistryImageReader

HISTORY = [{"created_by": "/bin/sh -c #(nop) ADD file:abc in / "}]
CHECK_TIMEOUT = 1.0


def cluster_running(image: str) -> FakeClusterReader:
    labels = {"app": "shop"}
    deployment = DeploymentSnapshot(
        name="shop", namespace="prod", labels=labels, selector=labels, replicas=1, ready_replicas=1,
        updated_replicas=1, available_replicas=1, revision=1, paused=False, containers=(container("app", image),),
    )
    return FakeClusterReader(deployments=[deployment], pods=[pod("shop-1", labels=labels, containers=[container("app", image)])])


def image_only_playbook():
    return parse_playbook(
        {"name": "image-only", "triggers": ["diagnose"], "timeout_seconds": 10, "check_timeout_seconds": CHECK_TIMEOUT,
         "checks": [{"check": "image", "params": {"compare_previous": False}}]},
        source="image-only.yaml",
    )


def check_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("check-") and t.is_alive() and t not in before]


def diagnose_and_watch_threads(registry, tag: str):
    before = set(threading.enumerate())  # other tests' fakes may sleep on in their own check threads
    started = time.monotonic()
    diagnosis = diagnose("shop", cluster=cluster_running(f"127.0.0.1:{registry.port}/app:{tag}"),
                         playbook=image_only_playbook(), images=RegistryImageReader())
    elapsed = time.monotonic() - started
    # "Shortly after": the thread may be finishing its last statement, never still reading.
    for _ in range(20):
        if not check_threads(before):
            break
        time.sleep(0.025)
    return diagnosis, elapsed, check_threads(before)


def test_a_layer_trickled_forever_stops_at_the_check_deadline(registry):
    def trickle():
        yield file_header("data/big.bin", 1 << 30)
        while not registry.closed.is_set():
            time.sleep(0.02)
            yield b"\0" * 64

    registry.add_image("app", "v1", [], HISTORY, streamed=[("sha256:" + "b" * 64, (1 << 30) + 1536, trickle)])
    diagnosis, elapsed, alive = diagnose_and_watch_threads(registry, "v1")
    assert alive == [], f"{[t.name for t in alive]} still running after diagnose returned"
    (run,) = diagnosis.checks
    assert run.status == "timeout" and run.findings[0].rule == "check-timeout"
    assert elapsed < CHECK_TIMEOUT + 2


def test_a_manifest_that_never_comes_stops_at_the_check_deadline(registry):
    registry.stall_manifests = True
    diagnosis, elapsed, alive = diagnose_and_watch_threads(registry, "v1")
    assert alive == []
    (run,) = diagnosis.checks
    assert run.status == "timeout"
    assert elapsed < CHECK_TIMEOUT + 2


def test_a_pax_loop_inside_a_diagnosis_is_a_failed_check_not_a_spinning_thread(registry):
    registry.add_image("app", "v1", [pax_layer(b"0 path=x\n")], HISTORY)
    diagnosis, _, alive = diagnose_and_watch_threads(registry, "v1")
    assert alive == []
    (run,) = diagnosis.checks
    assert run.status == "failed" and "PAX record" in (run.error or "")


def test_a_healthy_image_check_still_reports_within_its_deadline(registry):
    registry.add_image("app", "v1", [tar_bytes([("app/", None), ("app/.git/", None), ("app/.git/HEAD", b"r")])], HISTORY)
    diagnosis, _, alive = diagnose_and_watch_threads(registry, "v1")
    (run,) = diagnosis.checks
    assert run.status == "ok" and "vcs-directory" in {f.rule for f in run.findings}
    assert alive == []
