"""The admission manifests are held to the code: the path, the kinds, the TLS files and names, the ports and
the deadline they promise are the ones the webhook and `coroner certs` use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.admission.certs import CERT_FILE, KEY_FILE, service_names
from bot.admission.review import GATED_KINDS, GATED_OPERATIONS
from bot.admission.webhook import PATH
from bot.settings import ENV_PREFIX, Settings

ADMISSION = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "opt-in" / "admission"
RESOURCES = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


def documents() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((ADMISSION / "kustomization.yaml").read_text())
    found: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for document in yaml.safe_load_all((ADMISSION / name).read_text()):
            if document:
                found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


def webhook() -> dict[str, Any]:
    (hook,) = documents()["ValidatingWebhookConfiguration/coroner-gate"]["webhooks"]
    return hook


def test_the_webhook_sends_exactly_what_the_gate_judges():
    hook = webhook()
    (rule,) = hook["rules"]
    assert rule["apiGroups"] == ["apps"] and rule["apiVersions"] == ["v1"]
    assert set(rule["resources"]) == {RESOURCES[kind] for kind in GATED_KINDS}
    assert set(rule["operations"]) == GATED_OPERATIONS
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["clientConfig"]["service"]["path"] == PATH


def test_the_webhook_fails_open_and_the_gate_answers_inside_its_timeout():
    hook = webhook()
    assert hook["failurePolicy"] == "Ignore"
    assert hook["timeoutSeconds"] == 5
    assert Settings.model_fields["gate_deadline_seconds"].default < hook["timeoutSeconds"]
    # A dry run leaves no audit record and no Slack post (bot/admission/webhook.py skips them).
    assert hook["sideEffects"] == "NoneOnDryRun"


def test_the_service_the_certificate_and_the_deployment_agree():
    found = documents()
    hook = webhook()
    service = found["Service/coroner-webhook"]
    target = hook["clientConfig"]["service"]
    assert (target["name"], target["namespace"]) == (service["metadata"]["name"], service["metadata"]["namespace"])
    (port,) = service["spec"]["ports"]
    assert port["port"] == target["port"]

    certificate = found["Certificate/coroner-webhook"]
    annotation = found["ValidatingWebhookConfiguration/coroner-gate"]["metadata"]["annotations"]
    assert annotation["cert-manager.io/inject-ca-from"] == "{namespace}/{name}".format(**certificate["metadata"])
    assert certificate["spec"]["dnsNames"] == list(service_names(target["name"], target["namespace"]))

    deployment = found["Deployment/coroner-webhook"]
    pod = deployment["spec"]["template"]["spec"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[0] == "serve" and "--no-worker" in args
    (https,) = [p for p in container["ports"] if p["name"] == port["targetPort"]]
    assert https["containerPort"] == int(args[args.index("--port") + 1])
    (tls,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    assert tls["secret"]["secretName"] == certificate["spec"]["secretName"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
    assert args[args.index("--tls-cert") + 1] == f"{mount['mountPath']}/{CERT_FILE}"
    assert args[args.index("--tls-key") + 1] == f"{mount['mountPath']}/{KEY_FILE}"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"


def test_the_webhook_runs_as_the_read_only_bot():
    pod = documents()["Deployment/coroner-webhook"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "coroner"
    assert not any(d["kind"] in ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding") for d in documents().values())
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    names = [e["name"] for e in container["env"]]
    assert [n for n in names if n[len(ENV_PREFIX):].lower() not in Settings.model_fields] == []
