import pytest

from bot.images.model import LayerRef
from bot.ports import ImageReadError
from bot.sim.images import ScenarioImageReader
from bot.sim.scenario import load_scenario

CURRENT = "registry.internal:5000/user-profile-service:2024.05.14-1"


@pytest.fixture(scope="module")
def reader():
    return ScenarioImageReader(load_scenario("registry-meltdown"))


def test_manifest_has_config_history_and_layers(reader):
    manifest = reader.manifest(CURRENT)
    assert manifest.ref == CURRENT and manifest.digest.startswith("sha256:")
    assert manifest.config.user is None
    assert manifest.config.cmd[:2] == ("/bin/sh", "-c")  # shell-form CMD
    assert manifest.config.healthcheck is None
    assert "PROFILE_DB_PASSWORD=s3cr3t-do-not-print" in manifest.config.env
    assert len(manifest.layers) == 5 and manifest.created.tzinfo is not None


def test_layer_files_are_tar_ordered_with_directories(reader):
    manifest = reader.manifest(CURRENT)
    entries = list(reader.layer_files(CURRENT, manifest.layers[4]))
    paths = [e.path for e in entries]
    assert paths.index("app") < paths.index("app/.git") < paths.index("app/.git/index")
    assert all(not p.startswith(("/", "./")) for p in paths)
    assert {e.kind for e in entries} == {"dir", "file"}


def test_unknown_image_and_layer(reader):
    with pytest.raises(ImageReadError, match="not recorded"):
        reader.manifest("registry.internal:5000/nope:1")
    with pytest.raises(ImageReadError, match="no layer"):
        list(reader.layer_files(CURRENT, LayerRef(index=9, digest="sha256:00", size_bytes=0)))


def test_dockerfile(reader):
    assert "cuda-toolkit-12-1" in reader.dockerfile(CURRENT)


def test_lookup_by_the_digest_a_pod_reports():
    scenario = load_scenario("registry-meltdown")
    pod = next(p for p in scenario.pods if p["status"].get("containerStatuses")
               and p["status"]["containerStatuses"][0]["imageID"]
               and p["spec"]["containers"][0]["image"] == CURRENT)
    image_id = pod["status"]["containerStatuses"][0]["imageID"]
    assert ScenarioImageReader(scenario).manifest(image_id).ref == CURRENT
