"""The shipped outage scenario holds the facts the story depends on."""

from collections import Counter

import pytest

from bot.sim.scenario import load_scenario

CURRENT = "registry.internal:5000/user-profile-service:2024.05.14-1"
PREVIOUS = "registry.internal:5000/user-profile-service:2024.05.02-3"
MiB = 1024**2


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("registry-meltdown")


def test_three_of_six_nodes_are_not_ready_with_disk_pressure(scenario):
    assert len(scenario.nodes) == 6
    bad = []
    for node in scenario.nodes:
        conditions = {c["type"]: c for c in node["status"]["conditions"]}
        if conditions["Ready"]["status"] == "False":
            assert conditions["Ready"]["reason"] == "KubeletNotReady"
            assert conditions["DiskPressure"]["status"] == "True"
            assert conditions["DiskPressure"]["reason"] == "KubeletHasDiskPressure"
            bad.append(node["metadata"]["name"])
    assert len(bad) == 3
    for name in bad:
        imagefs = scenario.summaries[name]["node"]["runtime"]["imageFs"]
        used = (imagefs["capacityBytes"] - imagefs["availableBytes"]) / imagefs["capacityBytes"]
        assert 0.96 <= used <= 0.98


def test_image_sizes_match_the_story(scenario):
    current = scenario.image(CURRENT).manifest
    assert current.size_bytes == 4509715660  # the size in the Pulled events
    sizes = [layer.size_bytes for layer in current.layers]
    assert round(sizes[0] / MiB, 1) == 77.8
    assert sizes[3] == 300 * MiB
    assert round(sizes[1] / 1024**3, 1) == 2.1
    assert round(sizes[4] / 1024**3, 1) == 1.8
    assert scenario.image(PREVIOUS).manifest.size_bytes == 220 * MiB


def test_copy_layer_holds_git_venv_and_csv(scenario):
    evidence = scenario.image(CURRENT)
    copy_layer = evidence.manifest.layers[4]
    totals = Counter()
    for entry in evidence.layer_files[copy_layer.digest]:
        for prefix in ("app/.git/", "app/.venv/", "app/tests/data/"):
            if entry.path.startswith(prefix):
                totals[prefix] += entry.size_bytes
    assert totals == {"app/.git/": 800 * MiB, "app/.venv/": 600 * MiB, "app/tests/data/": 400 * MiB}


def test_history_maps_onto_layers(scenario):
    manifest = scenario.image(CURRENT).manifest
    with_layers = [h.created_by for h in manifest.history if not h.empty_layer]
    assert len(with_layers) == len(manifest.layers)
    assert "cuda-toolkit-12-1" in with_layers[1]
    assert with_layers[4] == "COPY . . # buildkit"


def test_dockerfile_is_recorded(scenario):
    dockerfile = scenario.dockerfile_for(CURRENT)
    assert "COPY . ." in dockerfile and "--no-install-recommends" not in dockerfile
    assert "USER" not in dockerfile
    assert scenario.dockerignore_for(CURRENT) is None
    assert scenario.dockerignore_for(PREVIOUS) is not None


def test_events_tell_the_story(scenario):
    reasons = Counter(e["reason"] for e in scenario.events)
    for reason in ("Evicted", "FreeDiskSpaceFailed", "ImageGCFailed", "Pulling", "Pulled", "Failed", "BackOff",
                   "Unhealthy", "SuccessfulRescale", "ScalingReplicaSet", "NodeNotReady"):
        assert reasons[reason], reason
    messages = [e["message"] for e in scenario.events]
    assert any("received unexpected HTTP status: 503 Service Unavailable" in m for m in messages)
    assert any("in 4m12.5s (4m30.1s including waiting). Image size: 4509715660 bytes." in m for m in messages)
    times = [e["lastTimestamp"] for e in scenario.events]
    assert times == sorted(times)
    assert min(times) >= "2024-05-14T02:38:00Z" and max(times) <= "2024-05-14T03:30:00Z"


def test_revisions_and_pods(scenario):
    revisions = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in scenario.replicasets}
    assert set(revisions) == {"3", "4", "5"}
    assert revisions["5"]["spec"]["template"]["spec"]["containers"][0]["image"] == CURRENT
    assert revisions["4"]["spec"]["template"]["spec"]["containers"][0]["image"] == PREVIOUS
    states = Counter()
    for pod in scenario.pods:
        status = pod["status"]
        if status.get("reason") == "Evicted":
            states["Evicted"] += 1
        for cs in status.get("containerStatuses", []):
            if "waiting" in cs["state"]:
                states[cs["state"]["waiting"]["reason"]] += 1
    assert states["Evicted"] == 3 and states["ImagePullBackOff"] and states["ErrImagePull"]
    hpa = scenario.hpas[0]
    assert hpa["status"]["desiredReplicas"] == hpa["spec"]["maxReplicas"]
