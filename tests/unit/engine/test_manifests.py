"""The shipped RBAC stays read-only unless an operator opts in."""

import re
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


def _container():
    (dep,) = docs(DEPLOY / "deployment.yaml")
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    return dep, container


def test_serve_listens_where_the_probes_look():
    # `coroner serve` binds 127.0.0.1:8080 by default: the manifest must bind every interface, on the
    # port its probes and its named container port use.
    _, container = _container()
    args = container["args"]
    assert args[0] == "serve"
    assert args[args.index("--host") + 1] == "0.0.0.0"
    port = int(args[args.index("--port") + 1])
    (http,) = [p for p in container["ports"] if p["name"] == "http"]
    assert http["containerPort"] == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", port)
    assert {container["readinessProbe"]["httpGet"]["path"], container["livenessProbe"]["httpGet"]["path"]} == {
        "/readyz", "/healthz"
    }


def test_every_environment_variable_is_a_setting():
    from bot.settings import ENV_PREFIX, Settings

    _, container = _container()
    names = [e["name"] for e in container["env"]]
    assert names and all(n.startswith(ENV_PREFIX) for n in names)
    unknown = [n for n in names if n[len(ENV_PREFIX):].lower() not in Settings.model_fields]
    assert unknown == []


def test_a_mounted_catalog_is_not_optional():
    # Settings refuses a CORONER_CATALOG_FILE that does not exist, so an optional ConfigMap would turn
    # a missing catalog into a crash loop instead of a pod waiting for its volume.
    dep, container = _container()
    env = {e["name"]: e.get("value") for e in container["env"]}
    catalog = env.get("CORONER_CATALOG_FILE")
    if catalog is None:
        return
    mount = next(m for m in container["volumeMounts"] if catalog.startswith(m["mountPath"].rstrip("/") + "/"))
    volume = next(v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert not volume.get("configMap", {}).get("optional", False)


def test_the_readmes_set_up_creates_what_the_deployment_reads():
    """README's "Deploying on Kubernetes" block: the Secret keys and the ConfigMap it creates are the ones
    the Deployment references, or the pod does not start (CreateContainerConfigError)."""
    readme = (DEPLOY.parents[1] / "README.md").read_text()
    block = readme.split("## Deploying on Kubernetes", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    created_keys = set(re.findall(r"--from-literal=([a-z-]+)=", block))
    (configmap,) = re.findall(r"create configmap (\S+) --from-file=(\S+)", block)
    (deployment,) = [d for d in docs(DEPLOY / "deployment.yaml") if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    assert {r["name"] for r in refs} == {"coroner"} and "secret generic coroner " in block
    assert {r["key"] for r in refs if not r.get("optional")} <= created_keys <= {r["key"] for r in refs}
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert volume["configMap"]["name"] == configmap[0]
    catalog = next(e["value"] for e in container["env"] if e["name"] == "CORONER_CATALOG_FILE")
    assert catalog.endswith("/" + configmap[1])
