import pytest

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from tests.doubles.sim_process import sim_process

pytestmark = pytest.mark.slow  # starts the sim in child processes


def test_generated_cluster_in_a_child_process(tmp_path):
    with sim_process(tmp_path / "config", generate_nodes=8, pods_per_node=3, context="bench") as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        with KubernetesClusterReader.from_kubeconfig(sim.kubeconfig, "bench") as reader:
            assert len(reader.list_nodes()) == 8


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of scenario or generate_nodes"):
        with sim_process("x", scenario="registry-meltdown", generate_nodes=3):
            pass


def test_a_sim_that_cannot_start_is_an_error(tmp_path):
    from tests.doubles.sim_process import SimProcessError

    with pytest.raises(SimProcessError, match="did not start"):
        with sim_process(tmp_path / "config", scenario="no-such-scenario"):
            pass
