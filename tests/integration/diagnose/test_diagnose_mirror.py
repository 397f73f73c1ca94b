"""Done-when of issue 9 §4: `coroner diagnose user-profile-service` against the sim, with the sim's
registry as the mirror of registry.internal:5000, reads the image through `RegistryImageReader` (as in
production), shows the culprit layers, and has no check-failed. Ages are as of the scenario."""

import json
import re

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.sim.server import running_sim

pytestmark = pytest.mark.slow  # reads registry-meltdown's 4.2 GB image through the sim's registry


@pytest.fixture(scope="module")
def meltdown(tmp_path_factory):
    with running_sim("registry-meltdown") as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
        name, _, value = sim.mirror_setting().partition("=")
        yield sim, kubeconfig, {name: value}


def diagnose(kubeconfig, env, *extra):
    result = CliRunner().invoke(main, ["diagnose", "user-profile-service", "--kubeconfig", str(kubeconfig),
                                       "--node-proxy", *extra], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_image_evidence_comes_from_the_registry_with_its_culprit_layers(meltdown):
    sim, kubeconfig, env = meltdown
    out = json.loads(diagnose(kubeconfig, env, "--format", "json"))
    rules = {f["rule"] for f in out["findings"]}
    assert not {"check-failed", "check-timeout", "check-forbidden"} & rules, rules
    by_rule: dict[str, list[dict]] = {}
    for finding in out["findings"]:
        by_rule.setdefault(finding["rule"], []).append(finding)
    # The culprit layers: layer 4 (COPY . .) carries .git, .venv and test data; layer 1 the CUDA toolchain.
    [vcs] = by_rule["vcs-directory"]
    assert "layer 4 (COPY . .)" in vcs["title"] and "app/.git 800 MB" in vcs["title"]
    fat = {f["title"].split(" adds ")[0]: f["title"] for f in by_rule["fat-layer"]}
    assert "app/.git 800 MB, app/.venv 600 MB, app/tests/data 400 MB" in fat["layer 4 (COPY . .)"]
    assert any("usr/local/cuda-12.1" in title for title in fat.values())
    assert {"data-files", "host-dependencies", "build-toolchain", "runs-as-root"} <= rules
    # ... read over the distribution API: manifest, config and the layer blobs of revision 5's image.
    registry = [path for path in sim.paths() if path.startswith("/v2/")]
    assert "/v2/user-profile-service/manifests/2024.05.14-1" in registry
    assert any(re.fullmatch(r"/v2/user-profile-service/blobs/sha256:[0-9a-f]{64}", path) for path in registry)


def test_ages_are_as_of_the_scenario(meltdown):
    _, kubeconfig, env = meltdown
    text = diagnose(kubeconfig, env, "--no-images")
    # The scenario's now is 03:07:00: NotReady since 02:58:21 is minutes old, not years.
    assert re.search(r"ip-10-0-2-63\.ec2\.internal is NotReady since 2024-05-14 02:58:21 \([89] min\)", text), text
