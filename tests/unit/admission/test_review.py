"""AdmissionReview v1 in and out: what changed, and the answer the API server reads."""

from __future__ import annotations

import json

import pytest
from tests.doubles.admission_reviews import review, workload

from bot.admission.review import MalformedReview, parse_review, review_response


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def test_an_image_change_names_the_container_and_the_image_it_replaces():
    old = workload("reg/api:v1", init_image="reg/migrate:v1", sidecar="reg/proxy:1")
    new = workload("reg/api:v2", init_image="reg/migrate:v2", sidecar="reg/proxy:1")

    request = parse_review(body(review(new, old, uid="abc-123")))

    assert request.uid == "abc-123" and request.operation == "UPDATE" and request.gated
    assert str(request.workload) == "Deployment prod/api" and request.user == "alice@example.com"
    assert [(c.container, c.init, c.previous, c.image) for c in request.changes] == [
        ("app", False, "reg/api:v1", "reg/api:v2"),
        ("migrate", True, "reg/migrate:v1", "reg/migrate:v2"),
    ]


def test_a_change_without_a_new_image_has_no_changes():
    old = workload("reg/api:v1", replicas=3)
    new = workload("reg/api:v1", replicas=30, annotations={"team": "profile"})

    assert parse_review(body(review(new, old))).changes == ()


def test_a_created_workload_has_every_image_as_new():
    request = parse_review(body(review(workload("reg/api:v1", kind="StatefulSet"))))

    assert request.operation == "CREATE"
    assert [(c.image, c.previous) for c in request.changes] == [("reg/api:v1", None)]


def test_the_override_annotation_is_read_from_the_object():
    overridden = workload("reg/api:v2", annotations={"coroner.dev/gate": "override"})
    assert parse_review(body(review(overridden, workload("reg/api:v1")))).overridden
    other = workload("reg/api:v2", annotations={"coroner.dev/gate": "please"})
    assert not parse_review(body(review(other, workload("reg/api:v1")))).overridden


def test_kinds_and_operations_outside_the_gate_are_not_gated():
    deletion = review(None, workload("reg/api:v1"), operation="DELETE")
    assert not parse_review(body(deletion)).gated
    pod = review(workload("reg/api:v1"))
    pod["request"]["kind"]["kind"] = "ReplicaSet"
    assert not parse_review(body(pod)).gated


@pytest.mark.parametrize(("document", "message"), [
    (b"{not json", "body is not JSON"),
    ([1, 2], "body is not a JSON object"),
    ({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}},
     "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "request is missing"),
    ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"kind": {}}}, "request.uid is missing"),
])
def test_a_malformed_review_is_one_line(document, message):
    raw = document if isinstance(document, bytes) else body(document)
    with pytest.raises(MalformedReview, match=message) as caught:
        parse_review(raw)
    assert "\n" not in str(caught.value)


def test_a_container_without_an_image_is_malformed():
    broken = review(workload("reg/api:v2"), workload("reg/api:v1"))
    del broken["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"]

    with pytest.raises(MalformedReview, match=r"containers\[0\]\.image is missing"):
        parse_review(body(broken))


def test_an_update_without_its_old_object_is_malformed():
    broken = review(workload("reg/api:v2"), workload("reg/api:v1"))
    broken["request"]["oldObject"] = None

    with pytest.raises(MalformedReview, match="oldObject is missing"):
        parse_review(body(broken))


def test_the_response_echoes_the_uid_and_carries_the_denial_status():
    denied = review_response("u-1", allowed=False, message="too big", code=403, warnings=["w"])
    assert denied == {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                      "response": {"uid": "u-1", "allowed": False, "status": {"code": 403, "message": "too big"},
                                   "warnings": ["w"]}}
    assert review_response("u-2", allowed=True)["response"] == {"uid": "u-2", "allowed": True}


def test_json_nested_past_the_stack_is_malformed_not_a_crash():
    for nested in (b"[" * 200_000, b'{"a":' * 200_000):  # well under the 1.5 MiB cap
        with pytest.raises(MalformedReview, match="body is not JSON: nested too deeply"):
            parse_review(nested)


def test_an_image_the_old_template_already_ran_is_no_change():
    old = workload("reg/api:v1", sidecar="reg/proxy:1")
    renamed = workload("reg/api:v1")
    renamed["spec"]["template"]["spec"]["containers"][0]["name"] = "main"  # renamed, same image
    renamed["spec"]["template"]["spec"]["containers"].append({"name": "worker", "image": "reg/api:v1"})  # added
    assert parse_review(body(review(renamed, old))).changes == ()  # the proxy removed: nothing to pull either


def test_a_container_renamed_with_a_new_image_is_judged_against_the_one_it_replaces():
    old = workload("reg/api:v1", sidecar="reg/proxy:1")
    new = workload("reg/api:v2", sidecar="reg/proxy:1")
    new["spec"]["template"]["spec"]["containers"][0]["name"] = "main"
    new["spec"]["template"]["spec"]["containers"].append({"name": "cache", "image": "reg/redis:7"})

    changes = parse_review(body(review(new, old))).changes

    assert [(c.container, c.previous, c.image) for c in changes] == [
        ("main", "reg/api:v1", "reg/api:v2"),  # the removed `app`, from the same repository
        ("cache", None, "reg/redis:7"),  # a new repository: judged alone
    ]


def test_only_an_init_containers_new_image_is_a_change():
    old = workload("reg/api:v1", init_image="reg/api-migrate:v1")
    new = workload("reg/api:v1", init_image="reg/api-migrate:v2")
    (change,) = parse_review(body(review(new, old))).changes
    assert (change.container, change.init, change.previous, change.image) == (
        "migrate", True, "reg/api-migrate:v1", "reg/api-migrate:v2")
    assert change.describe() == "init container migrate: reg/api-migrate:v1 -> reg/api-migrate:v2"


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
def test_delete_and_connect_are_not_gated(operation):
    old = workload("reg/api:v1")
    sent = review(None, old, operation=operation) if operation == "DELETE" else review(old, operation=operation)
    request = parse_review(body(sent))
    assert not request.gated and request.changes == ()
