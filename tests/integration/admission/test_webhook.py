"""POST /admission/validate over HTTPS, with the AdmissionReview v1 bodies the API server sends."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from bot.store.records import JobStatus
from tests.doubles.admission_reviews import review, workload
from tests.integration.admission.harness import (
    CHANNEL,
    NAME,
    NAMESPACE,
    SLOW_BLOB_SECONDS,
    grown_layer,
    running_webhook,
    wait_until,
)

OVERRIDE = {"coroner.dev/gate": "override"}


def response_of(answer: httpx.Response, uid: str) -> dict:
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert (document["apiVersion"], document["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert document["response"]["uid"] == uid
    return document["response"]


def test_a_grown_image_is_denied_with_its_culprits_and_the_override(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    sent = webhook.change(v1, v2)

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 403
    message = status["message"]
    assert "\n" not in message  # one paragraph, as kubectl prints it
    assert f"{v2} against {v1}" in message
    assert "image-growth: 4.9 MB against 147 KB uncompressed (34.2x, +4.8 MB): layer 1 (COPY . /app) 4.8 MB" in message
    assert "new-critical-finding: vcs-directory: Version-control history shipped in layer 1" in message
    assert message.endswith("Roll out anyway with the annotation `coroner.dev/gate: override`, recorded in the audit log.")
    (record,) = webhook.audit()
    assert (record.action, record.actor, record.target) == ("admission.denied", "alice@example.com",
                                                            f"Deployment {NAMESPACE}/{NAME}")
    assert record.details["uid"] == sent["request"]["uid"] and record.details["mode"] == "deny"
    (decision,) = record.details["decisions"]
    assert decision["verdict"] == "fail"
    assert {r["code"] for r in decision["reasons"]} == {"image-growth", "new-critical-finding"}
    # The denial reaches the service's channel through the job queue (the catalog names the channel).
    (post,) = webhook.slack.wait_for("/api/chat.postMessage")
    assert post.body["channel"] == CHANNEL
    assert "Admission gate denied" in post.body["blocks"][0]["text"]["text"]


def test_a_fixed_image_is_allowed_and_audited(webhook):
    v1, v3 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v3")
    webhook.warm(v1, v3)
    sent = webhook.change(v1, v3)

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    assert response == {"uid": sent["request"]["uid"], "allowed": True}
    (record,) = webhook.audit()
    assert record.action == "admission.allowed"
    (decision,) = record.details["decisions"]
    assert decision["verdict"] == "pass"
    # The cluster's live figures were weighed: the HPA-less reach and the sim's three nodes.
    assert any("pull pressure" in note for note in decision["notes"])


@pytest.mark.parametrize(("hosts", "receiving"), [
    (["ip-10-1-2-10.ec2.internal"], "on the 1 nodes without the image"),  # one of the sim's three nodes
    (["ip-10-9-9-10.ec2.internal"], "none (0 receiving nodes"),  # a node that is not there
])
def test_the_required_node_affinity_decides_which_nodes_would_pull(webhook, hosts, receiving):
    v1, v3 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v3")
    webhook.warm(v1, v3)
    pinned = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": hosts}]}]}}}
    sent = webhook.change(v1, v3, affinity=pinned)

    assert response_of(webhook.post(sent), sent["request"]["uid"])["allowed"] is True
    (record,) = webhook.audit()
    (decision,) = record.details["decisions"]
    (pressure,) = [note for note in decision["notes"] if note.startswith("pull pressure")]
    assert receiving in pressure, decision["notes"]


def test_a_namespace_in_warn_mode_is_warned_not_denied(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    sent = webhook.change(v1, v2, namespace="staging")

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    assert response["allowed"] is True and "status" not in response
    warnings = response["warnings"]
    assert any("image-growth" in w and v2 in w for w in warnings)
    assert warnings[-1] == f"coroner gate: in deny mode this change to Deployment staging/{NAME} would be refused"
    (record,) = webhook.audit()
    assert record.action == "admission.warned"
    assert record.details["mode_source"] == "namespace label coroner.dev/gate-mode"
    assert webhook.slack.calls("/api/chat.postMessage") == []


def test_the_override_annotation_allows_and_is_audited_without_reading_the_image(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    sent = webhook.change(v1, v2, annotations=OVERRIDE)
    reads = webhook.registry.reads()

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    assert response["allowed"] is True
    assert response["warnings"] == [
        (f"coroner gate overridden by the annotation coroner.dev/gate=override on Deployment {NAMESPACE}/{NAME}: "
         "recorded in the audit log. Remove the annotation so the next image is judged.")]
    (record,) = webhook.audit()
    assert record.action == "admission.overridden" and record.actor == "alice@example.com"
    assert record.details["images"] == [f"container app: {v1} -> {v2}"]
    assert webhook.registry.reads() == reads


def test_a_change_without_a_new_image_is_allowed_without_any_work(webhook):
    v1 = webhook.registry.ref("checkout", "v1")
    sent = review(workload(v1, namespace=NAMESPACE, name=NAME, replicas=30, annotations={"team": "payments"}),
                  workload(v1, namespace=NAMESPACE, name=NAME, replicas=3))
    reads = webhook.registry.reads()

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    assert response == {"uid": sent["request"]["uid"], "allowed": True}
    assert webhook.registry.reads() == reads  # no manifest, no blob
    assert webhook.audit() == [] and webhook.cached() == 0


def test_a_namespace_turned_off_reads_no_image(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    reads = webhook.registry.reads()
    sent = webhook.change(v1, v2, namespace="sandbox")

    assert response_of(webhook.post(sent), sent["request"]["uid"]) == {"uid": sent["request"]["uid"], "allowed": True}
    assert webhook.registry.reads() == reads and webhook.audit() == []


def test_a_dry_run_gets_the_answer_and_leaves_no_record(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    sent = webhook.change(v1, v2)
    sent["request"]["dryRun"] = True

    assert response_of(webhook.post(sent), sent["request"]["uid"])["allowed"] is False
    assert webhook.audit() == []


def test_a_cache_hit_is_answered_in_under_50_ms(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    assert webhook.cached() == 2  # the candidate and the image it replaces
    layers = webhook.registry.layer_reads()

    timings = []
    for _ in range(3):
        sent = webhook.change(v1, v2)
        answer, seconds = webhook.timed(sent)
        assert response_of(answer, sent["request"]["uid"])["allowed"] is False
        timings.append(seconds)

    assert min(timings) < 0.050, (timings, [r.details["seconds"] for r in webhook.audit()])
    assert webhook.registry.layer_reads() == layers  # no layer read again: the manifests name the digests


@pytest.mark.slow
def test_a_slow_registry_fails_open_before_the_deadline_and_the_cache_fills_behind(webhook):
    v1 = webhook.registry.ref("checkout", "v1")
    slow = webhook.registry.add_slow("checkout", "v4-slow", grown_layer(40), stall=SLOW_BLOB_SECONDS)
    sent = webhook.change(v1, slow)

    answer, seconds = webhook.timed(sent)

    response = response_of(answer, sent["request"]["uid"])
    assert seconds < 2.0, seconds  # CORONER_GATE_DEADLINE_SECONDS, well inside the webhook's 5 s timeout
    assert response["allowed"] is True
    (warning,) = response["warnings"]
    assert warning.startswith("coroner gate could not judge this change and allowed it (fail-open)")
    assert f"{slow} is not in the autopsy cache yet" in warning
    (record,) = webhook.audit()
    assert record.action == "admission.allowed" and record.details["fail_open"] is True

    wait_until(lambda: webhook.cached() == 2, timeout=SLOW_BLOB_SECONDS + 20, what="the background autopsy")
    again = webhook.change(v1, slow)
    response = response_of(webhook.post(again), again["request"]["uid"])
    assert response["allowed"] is False and "image-growth" in response["status"]["message"]


def test_an_image_that_does_not_exist_is_allowed_with_a_warning(webhook):
    v1 = webhook.registry.ref("checkout", "v1")
    missing = webhook.registry.ref("checkout", "nope")
    sent = webhook.change(v1, missing)

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    assert response["allowed"] is True
    assert "fail-open" in response["warnings"][0] and missing in response["warnings"][0]


@pytest.mark.parametrize(("body", "message"), [
    (b"kubectl apply -f -", "malformed AdmissionReview: body is not JSON"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"kind": {}}}',
     "malformed AdmissionReview: request.uid is missing"),
    (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}',
     "malformed AdmissionReview: expected apiVersion admission.k8s.io/v1 and kind AdmissionReview"),
])
def test_a_malformed_review_is_a_400_with_one_clear_line(webhook, body, message):
    answer = webhook.post(body)

    assert answer.status_code == 400
    assert answer.json()["error"].startswith(message)
    assert "Traceback" not in answer.text and "\n" not in answer.json()["error"]


def test_a_malformed_container_list_is_a_400(webhook):
    sent = webhook.change(webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2"))
    sent["request"]["object"]["spec"]["template"]["spec"]["containers"] = "app"

    answer = webhook.post(sent)

    assert answer.status_code == 400
    assert answer.json() == {"error": "malformed AdmissionReview: object.spec.template.spec.containers is not a list"}


def test_the_webhook_is_https_only_and_its_certificate_is_checked(webhook):
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{webhook.url}/admission/validate", content=b"{}", timeout=5)  # the system CAs do not know it
    with pytest.raises(httpx.HTTPError):
        httpx.post(webhook.url.replace("https://", "http://") + "/admission/validate", content=b"{}", timeout=5)
    pinned = ssl.create_default_context(cafile=webhook.ca)
    assert httpx.get(f"{webhook.url}/healthz", verify=pinned, timeout=5).status_code == 200



def test_replicas_share_the_autopsy_cache(tmp_path, images, certificates, postgres_url):
    v1, v2 = images.ref("checkout", "v1"), images.ref("checkout", "v2")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_webhook(tmp_path / "a", images, certificates, database_url=postgres_url) as first, \
            running_webhook(tmp_path / "b", images, certificates, database_url=postgres_url) as second:
        first.warm(v1, v2)
        layers = images.layer_reads()

        sent = second.change(v1, v2)
        response = response_of(second.post(sent), sent["request"]["uid"])

        assert response["allowed"] is False and "image-growth" in response["status"]["message"]
        assert images.layer_reads() == layers  # the second replica read no layer: the first one's autopsies


def test_a_created_daemonset_is_judged_without_a_reference_and_its_init_containers_too(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    sent = review(workload(v1, kind="DaemonSet", namespace=NAMESPACE, name="log-shipper", init_image=v2))

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    # No image is replaced, so no growth to judge: the .git directory is new, whatever it replaced.
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert message.startswith("Coroner's gate denied this DaemonSet: ")
    assert f"{v2} (init container migrate): new-critical-finding: vcs-directory" in message
    assert "image-growth" not in message
    (record,) = webhook.audit()
    assert record.target == f"DaemonSet {NAMESPACE}/log-shipper"
    verdicts = {d["container"]: d for d in record.details["decisions"]}
    assert verdicts["app"]["verdict"] == "pass" and verdicts["migrate"]["verdict"] == "fail"
    # A DaemonSet reaches every node that can take it: the sim's three healthy ones.
    assert any("pull pressure" in note for note in verdicts["migrate"]["notes"])


def test_a_denial_made_while_slack_is_down_is_posted_once_slack_is_back(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    webhook.slack.down = True
    sent = webhook.change(v1, v2)

    assert response_of(webhook.post(sent), sent["request"]["uid"])["allowed"] is False  # Slack is not on the path
    wait_until(lambda: webhook.slack.calls("/api/chat.postMessage"), what="a first attempt at the post")
    webhook.slack.down = False

    def posted() -> list:
        return [m for (channel, _), m in webhook.slack.messages.items()
                if channel == CHANNEL and "Admission gate denied" in json.dumps(m)]

    def job_done() -> bool:
        with webhook.services.store.unit_of_work() as uow:
            job = uow.jobs.get_by_key(f"post_gate_denial:{sent['request']['uid']}")
        return job is not None and job.status == JobStatus.DONE

    wait_until(job_done, timeout=60, what="the denial's post job done after the outage")
    assert len(posted()) == 1


def test_an_image_replacing_one_gone_from_the_registry_is_judged_alone(webhook):
    gone, v2 = webhook.registry.ref("checkout", "deleted-long-ago"), webhook.registry.ref("checkout", "v2")
    webhook.warm(webhook.registry.ref("checkout", "v1"), v2)
    sent = webhook.change(gone, v2)

    response = response_of(webhook.post(sent), sent["request"]["uid"])

    # Not a fail-open: the candidate is read, and its own .git directory is new whatever it replaced.
    assert response["allowed"] is False
    assert "new-critical-finding: vcs-directory" in response["status"]["message"]
    assert "image-growth" not in response["status"]["message"]
    (record,) = webhook.audit()
    (decision,) = record.details["decisions"]
    assert decision["reference"] is None
    assert any(note.startswith(f"the image replaced does not exist, so {v2} is judged alone") for note in decision["notes"])


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_allowed_without_any_work(webhook, operation):
    v1 = webhook.registry.ref("checkout", "v1")
    old = workload(v1, namespace=NAMESPACE, name=NAME)
    sent = review(None, old, operation=operation) if operation == "DELETE" else review(old, operation=operation)
    reads = webhook.registry.reads()

    assert response_of(webhook.post(sent), sent["request"]["uid"]) == {"uid": sent["request"]["uid"], "allowed": True}
    assert webhook.registry.reads() == reads and webhook.audit() == []


def test_a_renamed_container_keeping_its_image_is_allowed_without_any_work(webhook):
    v1 = webhook.registry.ref("checkout", "v1")
    new = workload(v1, namespace=NAMESPACE, name=NAME)
    new["spec"]["template"]["spec"]["containers"][0]["name"] = "main"
    sent = review(new, workload(v1, namespace=NAMESPACE, name=NAME))
    reads = webhook.registry.reads()

    assert response_of(webhook.post(sent), sent["request"]["uid"]) == {"uid": sent["request"]["uid"], "allowed": True}
    assert webhook.registry.reads() == reads and webhook.audit() == []


def test_json_nested_past_the_stack_is_a_400_not_a_crash(webhook):
    answer = webhook.post(b"[" * 500_000)  # a third of the body cap

    assert answer.status_code == 400
    assert answer.json() == {"error": "malformed AdmissionReview: body is not JSON: nested too deeply"}


def test_a_body_over_the_cap_is_a_413_with_one_line(webhook):
    answer = webhook.post(b'{"pad": "' + b"x" * (1536 * 1024) + b'"}')

    assert answer.status_code == 413
    assert "\n" not in answer.json()["error"] and "larger than" in answer.json()["error"]


def test_a_dry_run_denial_queues_no_slack_post(webhook):
    v1, v2 = webhook.registry.ref("checkout", "v1"), webhook.registry.ref("checkout", "v2")
    webhook.warm(v1, v2)
    sent = webhook.change(v1, v2)
    sent["request"]["dryRun"] = True

    assert response_of(webhook.post(sent), sent["request"]["uid"])["allowed"] is False
    with webhook.services.store.unit_of_work() as uow:
        assert uow.jobs.get_by_key(f"post_gate_denial:{sent['request']['uid']}") is None
    assert webhook.audit() == [] and webhook.slack.calls("/api/chat.postMessage") == []


def test_a_namespace_label_deny_overrides_a_warn_default(tmp_path, images, certificates):
    v1, v2 = images.ref("checkout", "v1"), images.ref("checkout", "v2")
    with running_webhook(tmp_path, images, certificates, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                         gate_mode="warn") as hook:
        hook.warm(v1, v2)
        warned = hook.change(v1, v2)
        strict = hook.change(v1, v2, namespace="strict")

        assert response_of(hook.post(warned), warned["request"]["uid"])["allowed"] is True
        answer = response_of(hook.post(strict), strict["request"]["uid"])
        assert answer["allowed"] is False and "image-growth" in answer["status"]["message"]
        records = {r.target: r for r in hook.audit()}
        assert records[f"Deployment strict/{NAME}"].details["mode_source"] == "namespace label coroner.dev/gate-mode"
        assert records[f"Deployment {NAMESPACE}/{NAME}"].action == "admission.warned"
