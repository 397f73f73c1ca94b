"""The shipped RBAC stays read-only unless an operator opts in."""

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
READ_VERBS = {"get", "list", "watch"}


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_readonly_clusterrole_has_only_read_verbs_and_no_node_proxy():
    role = next(d for d in docs(DEPLOY / "clusterrole-readonly.yaml") if d["kind"] == "ClusterRole")
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= READ_VERBS
        assert "nodes/proxy" not in rule["resources"] and "secrets" not in rule["resources"]
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"nodes", "pods", "events", "deployments", "replicasets", "horizontalpodautoscalers"} <= resources


def test_opt_ins_are_separate_files_not_in_the_default_kustomization():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert not any("opt-in" in r for r in kustomization["resources"])
    proxy = next(d for d in docs(DEPLOY / "opt-in" / "node-proxy.yaml") if d["kind"] == "ClusterRole")
    assert proxy["rules"] == [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]
    rollback = next(d for d in docs(DEPLOY / "opt-in" / "rollback-role.yaml") if d["kind"] == "Role")
    assert {"patch"} == {v for r in rollback["rules"] for v in r["verbs"]} - READ_VERBS


def test_bot_runs_non_root_with_read_only_root_fs_and_no_docker_socket():
    (dep,) = docs(DEPLOY / "deployment.yaml")
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "docker.sock" not in (DEPLOY / "deployment.yaml").read_text().replace("never mount /var/run/docker.sock", "")
