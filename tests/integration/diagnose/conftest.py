"""Diagnosis against the simulated API server with the real kubernetes client (the production code path)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.engine.playbook import load_playbooks
from bot.sim.images import ScenarioImageReader
from bot.sim.scenario import load_scenario
from bot.sim.server import SimServer, running_sim

@dataclass
class Cluster:
    sim: SimServer
    kubeconfig: Path
    reader: KubernetesClusterReader
    images: ScenarioImageReader


@contextmanager
def _cluster(name: str | Path, tmp: Path) -> Iterator[Cluster]:
    """A shipped scenario by name, or a scenario file by path; the kubeconfig context is the scenario's name."""
    scenario = load_scenario(name)
    with running_sim(scenario) as sim:
        kubeconfig = sim.write_kubeconfig(tmp / "config", context=scenario.name)
        with KubernetesClusterReader.from_kubeconfig(kubeconfig, scenario.name) as reader:
            yield Cluster(sim, kubeconfig, reader, ScenarioImageReader(scenario))


@pytest.fixture
def cluster(tmp_path):
    """`with cluster("registry-meltdown") as c:` -> sim, kubeconfig, cluster reader, image reader."""
    return lambda name: _cluster(name, tmp_path)


@pytest.fixture(scope="session")
def playbook():
    # The repository's playbooks (what the wheel packages), so that a worktree tests its own.
    return load_playbooks(Path(__file__).resolve().parents[3] / "playbooks")["diagnose"]
