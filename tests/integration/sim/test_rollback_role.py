"""The opt-in rollback Role grants exactly what the rollbacker asks the API server for: no more, no less.

The sim records every RBAC decision it makes. The rollbacker is driven through every path it has (a dry
run, a rollback, following the rollout, a skipped rollback, the refusals), then the (API group,
resource, verb) triples the sim checked are compared with the Role's rules, and each namespace with the
Role's own.
"""

from pathlib import Path

import pytest
import yaml

from bot.cluster.kubernetes_rollbacker import KubernetesRollbacker
from bot.ports import RollbackError
from bot.sim.model import Forbidden
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim

ROLE_FILE = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "opt-in" / "rollback-role.yaml"
NS, NAME = "prod", "user-profile-service"


def role():
    return next(d for d in yaml.safe_load_all(ROLE_FILE.read_text()) if d and d["kind"] == "Role")


def granted(rules):
    return {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def exercise(sim, tmp_path):
    with KubernetesRollbacker.connect(sim.write_kubeconfig(tmp_path / "config"), timeout=5) as rollbacker:
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=4, dry_run=True)
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=4, expected_revision=5)
        list(rollbacker.wait_for_rollout(namespace=NS, name=NAME, timeout=10, poll=0))
        rollbacker.rollback(namespace=NS, name=NAME, to_revision=6)  # skipped: already there
        for bad in (dict(to_revision=9), dict(to_revision=3, expected_revision=5)):
            with pytest.raises(RollbackError):
                rollbacker.rollback(namespace=NS, name=NAME, **bad)


def test_the_role_grants_exactly_the_calls_a_rollback_makes(tmp_path):
    with running_sim("registry-meltdown") as sim:
        exercise(sim, tmp_path)
        checks = list(sim.api.rbac_checks)
    the_role = role()
    assert the_role["metadata"]["namespace"] == NS
    used = {(group, resource, verb) for verb, group, resource, _ in checks}
    assert used == granted(the_role["rules"])
    assert {namespace for *_, namespace in checks} == {NS}  # a namespaced Role is enough: nothing cluster-wide
    assert not any("*" in value for rule in the_role["rules"] for values in rule.values() for value in values)


def test_every_rule_of_the_role_is_needed(tmp_path):
    """Forbid each granted permission in turn: the rollback must fail for want of exactly that one."""
    for _group, resource, verb in sorted(granted(role()["rules"])):
        scenario = load_scenario("registry-meltdown")
        scenario.forbidden = (Forbidden(verb, resource, NS),)
        with running_sim(scenario) as sim:
            with KubernetesRollbacker.connect(sim.write_kubeconfig(tmp_path / f"{verb}-{resource}"),
                                              timeout=5) as rollbacker:
                with pytest.raises(RollbackError, match=f"forbidden: needs {verb} on {resource} in {NS}"):
                    rollbacker.rollback(namespace=NS, name=NAME, to_revision=4)
