"""`coroner sim` as a user runs it: a process that prints its URL, writes a kubeconfig, stops on Ctrl-C."""

import signal
import subprocess

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cluster.kubernetes_reader import KubernetesClusterReader
from tests.cli_process import CORONER
from bot.images.mirrors import parse_mirrors
from bot.images.registry_reader import RegistryImageReader


@pytest.mark.slow  # a coroner process
@pytest.mark.parametrize(("source", "banner", "nodes"), [
    (["--scenario", "registry-meltdown"], "serving registry-meltdown (6 nodes, 33 pods)", 6),
    (["--generate-nodes", "12", "--pods-per-node", "5"], "serving generated-12-nodes (12 nodes, 60 pods)", 12),
])
def test_sim_serves_until_interrupted(tmp_path, source, banner, nodes):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [*CORONER, "sim", *source,
         "--port", "0", "--write-kubeconfig", str(kubeconfig), "--context", "meltdown"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith(f"coroner sim: {banner} at http://127.0.0.1:")
        assert process.stdout.readline().startswith(f"kubeconfig: {kubeconfig}")
        with KubernetesClusterReader.from_kubeconfig(kubeconfig) as reader:
            assert reader.context == "meltdown"
            assert len(reader.list_nodes()) == nodes
        process.send_signal(signal.SIGINT)
        # communicate, not wait: a child blocked writing to a full stderr pipe would never exit.
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "stopped" in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow  # a coroner process
def test_sim_prints_the_mirror_setting_and_serves_the_images_there(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [*CORONER, "sim", "--scenario", "config-change-crashloop",
         "--port", "0", "--write-kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = process.stdout.readline().rsplit(" at ", 1)[1].strip()
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[2] == f"images: export CORONER_REGISTRY_MIRRORS=registry.internal:5000={url}\n"
        setting = lines[2].split("export ", 1)[1].strip().partition("=")[2]
        manifest = RegistryImageReader(mirrors=parse_mirrors(setting)).manifest(
            "registry.internal:5000/notification-worker:2024.10.30-1")
        assert len(manifest.layers) == 2
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_list_and_usage_errors():
    runner = CliRunner()
    result = runner.invoke(main, ["sim", "--list"])
    assert result.exit_code == 0 and "registry-meltdown" in result.output.split()
    result = runner.invoke(main, ["sim"])
    assert result.exit_code == 2 and "exactly one of" in result.output


def test_unknown_scenario_is_one_line():
    result = CliRunner().invoke(main, ["sim", "--scenario", "nope"])
    assert result.exit_code == 1
    assert "unknown scenario 'nope'" in result.output


@pytest.mark.parametrize("args", [["--scenario", "registry-meltdown", "--port", "70000"]])
def test_bad_port(args):
    assert CliRunner().invoke(main, ["sim", *args]).exit_code == 2


def test_unwritable_kubeconfig_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["sim", "--scenario", "registry-meltdown", "--write-kubeconfig",
                                       str(blocker / "config")])
    assert result.exit_code == 1
    assert f"Error: cannot write the kubeconfig {blocker / 'config'}: " in result.output
    assert "Traceback" not in result.output
