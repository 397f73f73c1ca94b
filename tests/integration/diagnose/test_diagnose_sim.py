"""`diagnose()` and `coroner diagnose` on sim scenarios, through the official kubernetes client."""

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.engine.diagnose import diagnose
from bot.engine.resolve import UnknownService
from tests.cli_process import CORONER


def rules(d):
    return [f.rule for f in d.findings]


def finding(d, rule):
    return next(f for f in d.findings if f.rule == rule)


def test_registry_meltdown(cluster, playbook):
    with cluster("registry-meltdown") as c:
        d = diagnose("user-profile-service", cluster=c.reader, images=c.images, playbook=playbook,
                     node_proxy_enabled=True)
    assert (d.target.context, d.target.namespace, d.target.name) == ("registry-meltdown", "prod", "user-profile-service")
    found = set(rules(d))
    assert {
        "node-not-ready", "node-pressure", "node-disk-high", "pods-not-ready", "image-pull-failing",
        "image-pull-slow", "evictions", "registry-errors", "image-size-regression", "rollback-candidate",
        "hpa-scaling", "pull-pressure",
    } <= found
    assert not {"check-forbidden", "check-failed", "check-timeout"} & found
    # The autopsy ran on revision 5's image through the image reader and its findings are here.
    assert any(f.check == "image" for f in d.findings)
    disk = [f for f in d.findings if f.rule == "node-disk-high"]
    assert {f.evidence["node"] for f in disk} == {
        "ip-10-0-2-63.ec2.internal", "ip-10-0-3-29.ec2.internal", "ip-10-0-3-84.ec2.internal"
    }
    assert all(f.evidence["filesystem"] == "imagefs" and f.evidence["used_percent"] > 96 for f in disk)
    reg = finding(d, "image-size-regression")
    assert (reg.evidence["current_revision"], reg.evidence["previous_revision"]) == (5, 4)
    assert reg.evidence["current_size_bytes"] == 4_509_715_660
    rb = finding(d, "rollback-candidate")
    assert rb.evidence["undo_command"] == "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=4"
    template = rb.evidence["patch"][0]["value"]
    assert template["spec"]["containers"][0]["image"] == "registry.internal:5000/user-profile-service:2024.05.02-3"
    assert "pod-template-hash" not in template["metadata"]["labels"]
    assert [(c.revision, c.healthy) for c in d.rollback_candidates][:1] == [(4, True)]
    assert d.recommended.revision == 4
    assert d.rollback.recommended and d.rollback.revision == 4
    assert "image-size-regression" in d.rollback.implicated_by
    assert d.cause is not None and d.cause.summary.startswith("revision 5 (image 4.2 GB, 19.5× revision 4) → ")
    assert d.cause.summary.endswith("→ registry 503")
    out = d.to_json()
    assert list(out) == ["service", "target", "findings", "rollback_candidates", "rollback", "cause", "timeline",
                         "duration_ms"]
    assert [e["at"] for e in out["timeline"]] == sorted(e["at"] for e in out["timeline"])
    assert {"rollout", "node", "kubernetes"} <= {e["source"] for e in out["timeline"]}
    assert finding(d, "registry-errors").evidence["registries"] == {"registry.internal:5000": 24}


def test_registry_meltdown_without_summary_api_falls_back(cluster, playbook):
    with cluster("registry-meltdown") as c:
        d = diagnose("user-profile-service", cluster=c.reader, playbook=playbook, node_proxy_enabled=False)
        assert not any("/proxy/" in p for p in c.sim.paths())
    disk = [f for f in d.findings if f.rule == "node-disk-high"]
    assert len(disk) == 3 and all(f.evidence["source"] == "node conditions and status.images" for f in disk)


def test_crashloop_bad_config(cluster, playbook):
    with cluster("crashloop-bad-config") as c:
        d = diagnose("checkout-api", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    assert (d.target.namespace, d.target.name) == ("payments", "checkout-api")
    crash = finding(d, "crashloop")
    assert crash.evidence["restarts"] == 7 and crash.evidence["last_terminated_reasons"] == {"Error": 2}
    assert not {"node-not-ready", "node-pressure", "node-disk-high", "image-size-regression"} & set(rules(d))
    assert finding(d, "weak-probe").evidence["readiness_probe"] == "tcp"
    rb = finding(d, "rollback-candidate")
    assert rb.evidence["revision"] == 6 and rb.evidence["current_healthy"] is False
    assert rb.evidence["undo_command"] == "kubectl rollout undo deployment/checkout-api -n payments --to-revision=6"
    assert d.recommended.revision == 6


def test_memory_pressure_storm(cluster, playbook):
    with cluster("memory-pressure-storm") as c:
        d = diagnose("report-worker", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    pressure = [f for f in d.findings if f.rule == "node-pressure"]
    assert {f.evidence["condition"] for f in pressure} == {"MemoryPressure"} and len(pressure) == 3
    assert "OOMKilled" in finding(d, "crashloop").evidence["last_terminated_reasons"]
    assert "memory" in finding(d, "crashloop").remediation
    assert "low on resource: memory" in finding(d, "evictions").title
    assert finding(d, "no-memory-limit").evidence["container"] == "worker"
    assert finding(d, "weak-probe").evidence["readiness_probe"] is None


def test_rbac_forbidden_names_what_is_missing_and_the_rest_reports(cluster, playbook):
    with cluster("rbac-forbidden") as c:
        d = diagnose("user-profile-service", cluster=c.reader, playbook=playbook, node_proxy_enabled=True)
    gaps = sorted(f.title for f in d.findings if f.rule == "check-forbidden")
    assert gaps == [
        "disk, neighbours: forbidden: needs get on nodes/proxy",
        # neighbours reads the pods' pull events to tell a registry's failure from the image's
        "hpa, neighbours, rollout, workload: forbidden: needs list on events",
    ]
    found = set(rules(d))
    # Nodes, pods, revisions and node images still tell most of the story.
    assert {"node-disk-high", "node-not-ready", "pods-not-ready", "image-pull-failing", "registry-errors",
            "image-size-regression", "rollback-candidate", "pull-pressure", "hpa-scaling"} <= found
    disk = [f for f in d.findings if f.rule == "node-disk-high"]
    assert all(f.evidence["source"] == "node conditions and status.images" for f in disk)
    assert "image-pull-slow" not in found  # only events carry pull durations
    assert {e.source for e in d.timeline} == {"rollout", "node"}


def test_unknown_service_suggests_the_closest(cluster, playbook):
    with cluster("registry-meltdown") as c:
        with pytest.raises(UnknownService) as err:
            diagnose("user-profil-service", cluster=c.reader, playbook=playbook)
    assert err.value.suggestions[0] == "user-profile-service"



def test_on_check_done_hears_every_check_of_the_playbook_once_with_its_status(cluster, playbook):
    heard: list[tuple[str, str]] = []
    with cluster("registry-meltdown") as c:
        with pytest.raises(UnknownService):
            diagnose("user-profil-service", cluster=c.reader, playbook=playbook,
                     on_check_done=lambda check, status: heard.append((check, status)))
        assert heard == []  # resolution failed before any check ran
        d = diagnose("user-profile-service", cluster=c.reader, playbook=playbook,
                     on_check_done=lambda check, status: heard.append((check, status)))
    assert [check for check, _ in heard] == [step.check for step in playbook.steps]
    assert heard == [(run.check, run.status) for run in d.checks]

def test_cli_json_and_text(cluster):
    with cluster("registry-meltdown") as c:
        runner = CliRunner()
        base = ["diagnose", "user-profile-service", "--kubeconfig", str(c.kubeconfig), "--no-images"]
        result = runner.invoke(main, [*base, "--format", "json", "--node-proxy"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["target"] == {"context": "registry-meltdown", "namespace": "prod", "kind": "Deployment",
                                 "name": "user-profile-service"}
        assert out["rollback_candidates"][0]["revision"] == 4
        text = runner.invoke(main, base)
        assert text.exit_code == 0
        assert "[2024-05-14 02:38:03] Deployment prod/user-profile-service revision 5 rolled out" in text.output
        assert "kubectl rollout undo deployment/user-profile-service -n prod --to-revision=4" in text.output
        # The text and Markdown sinks lead with the same probable cause and number the findings alike.
        assert "Probable cause (high confidence): revision 5 (image 4.2 GB" in text.output
        markdown = runner.invoke(main, [*base, "--format", "markdown"])
        assert markdown.exit_code == 0, markdown.output
        assert markdown.output.startswith("## Diagnosis: user-profile-service\n")
        assert "**Probable cause (high confidence): revision 5 (image 4.2 GB" in markdown.output
        first = next(line for line in text.output.splitlines() if line.strip().startswith("1. ["))
        rule = first.split("] ", 1)[1].split(":", 1)[0]
        assert f"1. **{first.split('[', 1)[1].split(']', 1)[0]}** `{rule}`:" in markdown.output
        assert "```sh\nkubectl rollout undo deployment/user-profile-service -n prod --to-revision=4\n```" in markdown.output
        unknown = runner.invoke(main, ["diagnose", "nope-service", "--kubeconfig", str(c.kubeconfig)])
        assert unknown.exit_code == 3 and "unknown service 'nope-service'" in unknown.output
        bad_playbook = runner.invoke(main, [*base, "--playbook", "diagnoze"])
        assert bad_playbook.exit_code == 2 and "did you mean diagnose" in bad_playbook.output


def test_cli_resolves_through_the_catalog_with_its_context_and_dockerfile(cluster, tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "Dockerfile").write_text(
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y build-essential cuda-toolkit-12-1\n"
        "COPY . .\nCMD [\"python3\", \"-m\", \"app\"]\n"
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n  profiles:\n    context: registry-meltdown\n    namespace: prod\n"
        "    workload: deployment/user-profile-service\n    container: app\n    pagerduty_service_id: PF9KMXH\n"
        "    dockerfile: svc/Dockerfile\n"
    )
    with cluster("registry-meltdown") as c:
        result = CliRunner().invoke(
            main, ["diagnose", "profiles", "--catalog", str(catalog), "--kubeconfig", str(c.kubeconfig),
                   "--no-images", "--format", "json"],
        )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["service"] == "profiles"
    assert out["target"] == {"context": "registry-meltdown", "namespace": "prod", "kind": "Deployment",
                             "name": "user-profile-service"}
    rules = {f["rule"] for f in out["findings"]}
    assert "build-tools-in-final-stage" in rules  # the catalog's Dockerfile was linted
    assert "dockerignore-missing" in rules


def test_unknown_context_is_a_clear_error(cluster):
    with cluster("registry-meltdown") as c:
        result = CliRunner().invoke(main, ["diagnose", "user-profile-service", "--kubeconfig", str(c.kubeconfig),
                                           "--context", "prod-eu"])
    assert result.exit_code == 1
    assert "coroner: error: cannot load kubeconfig" in result.output and "prod-eu" in result.output


@pytest.mark.slow  # waits out the client's connection timeout
def test_unreachable_api_server_is_one_line_and_exit_1(tmp_path):
    # In a real process: the exit code is the error's (an abort at shutdown used to make it 134), and
    # urllib3's retry warnings do not bury Coroner's own line.
    import socket
    import subprocess

    from bot.sim.kubeconfig import write_kubeconfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    kubeconfig = tmp_path / "config"
    write_kubeconfig(kubeconfig, f"http://127.0.0.1:{port}")
    result = subprocess.run(
        [*CORONER, "diagnose", "user-profile-service", "--kubeconfig", str(kubeconfig),
         "--no-images"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("coroner: error: ") and "cannot reach the API server" in line


def test_cli_several_matches_ask_to_choose_with_exit_4(cluster, tmp_path):
    # The same Deployment name in prod and in staging: the user must pick the namespace.
    scenario = tmp_path / "two-profiles.yaml"
    scenario.write_text(
        "extends: registry-meltdown\nname: two-profiles\nraw:\n"
        "  - kind: Deployment\n    apiVersion: apps/v1\n"
        "    metadata: {name: user-profile-service, namespace: staging, labels: {app: user-profile-service}}\n"
        "    spec: {replicas: 1, selector: {matchLabels: {app: user-profile-service}},\n"
        "           template: {metadata: {labels: {app: user-profile-service}},\n"
        "                      spec: {containers: [{name: app, image: busybox}]}}}\n"
    )
    with cluster(str(scenario)) as c:
        runner = CliRunner()
        base = ["diagnose", "user-profile-service", "--kubeconfig", str(c.kubeconfig), "--no-images"]
        result = runner.invoke(main, base)
        assert result.exit_code == 4, result.output
        assert "matches 2 workloads: prod/user-profile-service, staging/user-profile-service" in result.output
        assert "Choose one with --namespace" in result.output
        chosen = runner.invoke(main, [*base, "-n", "prod", "--format", "json"])
        assert chosen.exit_code == 0, chosen.output
        assert json.loads(chosen.output)["target"]["namespace"] == "prod"


def test_a_check_past_its_timeout_on_a_slow_api_server_is_a_finding_and_the_rest_report(tmp_path):
    # Every answer of the sim takes 150 ms; the disk check (a summary per node) gets 100 ms in all.
    from bot.cluster.kubernetes_reader import KubernetesClusterReader
    from bot.engine.playbook import parse_playbook
    from bot.sim.scenario import load_scenario
    from bot.sim.server import running_sim

    playbook = parse_playbook(
        {"name": "slow", "triggers": ["diagnose"], "timeout_seconds": 30,
         "checks": [{"check": "nodes"}, {"check": "disk", "timeout_seconds": 0.1}, {"check": "rollout"}]},
        source="slow.yaml",
    )
    scenario = load_scenario("registry-meltdown")
    scenario.latency_ms = 150
    with running_sim(scenario) as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "config", context="slow")
        with KubernetesClusterReader.from_kubeconfig(kubeconfig, "slow") as reader:
            d = diagnose("user-profile-service", cluster=reader, playbook=playbook, node_proxy_enabled=True)
    (timeout,) = [f for f in d.findings if f.rule == "check-timeout"]
    doing = timeout.evidence.pop("doing")  # the API server's answer or another check's read of the same list
    assert timeout.evidence == {"check": "disk", "timeout_seconds": 0.1, "whole_run": False}
    assert doing.startswith("waiting for ") and f"while {doing};" in timeout.title
    assert "node-disk-high" not in rules(d)
    assert {"node-not-ready", "node-pressure", "image-size-regression", "rollback-candidate"} <= set(rules(d))
    assert [(r.check, r.status) for r in d.checks] == [("nodes", "ok"), ("disk", "timeout"), ("rollout", "ok")]


def test_a_kubeconfig_that_is_not_yaml_is_one_line_naming_the_file(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n")
    result = CliRunner().invoke(main, ["diagnose", "user-profile-service", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 1
    assert result.output.startswith(f"coroner: error: cannot load kubeconfig {kubeconfig}: not valid YAML at line 3")
    assert result.output.count("\n") == 1
