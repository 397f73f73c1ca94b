"""`coroner sim` as a user runs it: a process that prints its URL, writes a kubeconfig, stops on Ctrl-C."""

import signal
import subprocess

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cluster.kubernetes_reader import KubernetesClusterReader
from tests.cli_process import CORONER


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
        assert process.wait(timeout=10) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


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
