"""PATCH of a Deployment and the simulated deployment controller, on the JSON a real API server sends."""

import json

import pytest

from bot.sim.patch import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from bot.sim.scenario import load_scenario
from bot.sim.server import SimApi

DEPLOYMENT = "/apis/apps/v1/namespaces/prod/deployments/user-profile-service"
REPLICASETS = "/apis/apps/v1/namespaces/prod/replicasets"
REVISION = "deployment.kubernetes.io/revision"
NEW_IMAGE = "registry.internal:5000/user-profile-service:2024.05.14-2"


@pytest.fixture
def api():
    return SimApi(load_scenario("registry-meltdown"))


def get(api, path):
    code, body = api.handle("GET", path)
    assert code == 200, body
    return json.loads(body)


def patch(api, body, content_type=JSON_PATCH, path=DEPLOYMENT):
    code, answer = api.handle("PATCH", path, json.dumps(body).encode(), content_type)
    return code, json.loads(answer)


def set_image(image):
    """What `kubectl set image deployment/user-profile-service app=IMAGE` sends."""
    return {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}


def replicasets(api):
    return {rs["metadata"]["name"]: rs for rs in get(api, REPLICASETS)["items"]}


def test_a_new_template_gets_a_new_replicaset_and_rolls_out(api):
    before = get(api, DEPLOYMENT)
    code, patched = patch(api, set_image(NEW_IMAGE), STRATEGIC_MERGE_PATCH)
    assert code == 200
    # The API server bumps the generation; the controller has not seen it yet.
    assert patched["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert patched["status"]["observedGeneration"] == before["status"]["observedGeneration"]
    assert int(patched["metadata"]["resourceVersion"]) == int(api.scenario.resource_version) + 1
    steps = [get(api, DEPLOYMENT) for _ in range(8)]
    first, last = steps[0], steps[-1]
    assert first["metadata"]["annotations"][REVISION] == "6"
    assert first["status"]["observedGeneration"] == patched["metadata"]["generation"]
    assert [c["reason"] for c in first["status"]["conditions"]] == ["MinimumReplicasUnavailable", "NewReplicaSetCreated"]
    updated = [s["status"]["updatedReplicas"] for s in steps]
    assert updated == sorted(updated) and updated[-1] == 30  # it only moves forward
    assert max(s["status"]["replicas"] for s in steps) <= 30 + 8  # never more than replicas + maxSurge
    assert last["status"] | {"conditions": None} == {
        "observedGeneration": patched["metadata"]["generation"], "replicas": 30, "updatedReplicas": 30,
        "readyReplicas": 30, "availableReplicas": 30, "conditions": None}
    assert last["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable"

    sets = replicasets(api)
    (new,) = [rs for rs in sets.values() if rs["metadata"]["annotations"][REVISION] == "6"]
    pod_hash = new["metadata"]["labels"]["pod-template-hash"]
    assert new["metadata"]["name"] == f"user-profile-service-{pod_hash}"
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    assert new["spec"]["selector"]["matchLabels"]["pod-template-hash"] == pod_hash
    assert new["metadata"]["ownerReferences"][0] | {"uid": None} == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "user-profile-service", "uid": None,
        "controller": True, "blockOwnerDeletion": True}
    assert new["metadata"]["ownerReferences"][0]["uid"] == before["metadata"]["uid"]
    assert all(rs["spec"]["replicas"] == 0 for name, rs in sets.items() if rs is not new)


def test_reads_of_other_resources_do_not_move_the_rollout(api):
    patch(api, set_image(NEW_IMAGE), STRATEGIC_MERGE_PATCH)
    for _ in range(5):
        get(api, "/api/v1/namespaces/prod/pods")
    assert get(api, DEPLOYMENT)["status"]["updatedReplicas"] == 8  # the first step only


def test_patch_keeps_the_scenario_untouched(api):
    scenario = api.scenario
    patch(api, set_image(NEW_IMAGE), STRATEGIC_MERGE_PATCH)
    for _ in range(6):
        get(api, REPLICASETS)
    assert scenario.deployments[0]["metadata"]["annotations"][REVISION] == "5"
    assert len(scenario.replicasets) == 3 and len(replicasets(api)) == 4
    assert SimApi(scenario).handle("GET", DEPLOYMENT)[1] == SimApi(load_scenario("registry-meltdown")).handle(
        "GET", DEPLOYMENT)[1]


def test_a_paused_deployment_is_observed_but_not_rolled_out(api):
    assert patch(api, {"spec": {"paused": True}}, STRATEGIC_MERGE_PATCH)[0] == 200  # kubectl rollout pause
    code, patched = patch(api, set_image(NEW_IMAGE), STRATEGIC_MERGE_PATCH)
    assert code == 200
    seen = get(api, DEPLOYMENT)
    assert seen["status"]["observedGeneration"] == patched["metadata"]["generation"]
    assert seen["metadata"]["annotations"][REVISION] == "5" and len(replicasets(api)) == 3
    patch(api, {"spec": {"paused": None}}, STRATEGIC_MERGE_PATCH)  # kubectl rollout resume
    assert get(api, DEPLOYMENT)["metadata"]["annotations"][REVISION] == "6"


def test_a_patch_that_changes_nothing_stores_nothing(api):
    before = get(api, DEPLOYMENT)
    code, same = patch(api, {"spec": {"replicas": 30}}, MERGE_PATCH)
    assert code == 200 and same["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert same["metadata"]["generation"] == before["metadata"]["generation"]


def test_dry_run_validates_and_stores_nothing(api):
    before = get(api, DEPLOYMENT)
    code, body = api.handle("PATCH", DEPLOYMENT + "?dryRun=All", json.dumps(set_image(NEW_IMAGE)).encode(),
                            STRATEGIC_MERGE_PATCH)
    answer = json.loads(body)
    assert code == 200 and answer["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    assert get(api, DEPLOYMENT) == before
    code, body = api.handle("PATCH", DEPLOYMENT + "?dryRun=Some", b"{}", MERGE_PATCH)
    assert code == 422 and "supported values: \"All\"" in json.loads(body)["message"]


def test_forbidden_patch_is_a_403_status_and_changes_nothing(tmp_path):
    (tmp_path / "no-patch.yaml").write_text(
        "extends: registry-meltdown\nname: no-patch\n"
        "rbac: {forbidden: [{verb: patch, resource: deployments, namespace: prod}]}\n")
    api = SimApi(load_scenario(tmp_path / "no-patch.yaml"))
    code, status = patch(api, set_image(NEW_IMAGE), STRATEGIC_MERGE_PATCH)
    assert code == 403
    assert status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'deployments.apps "user-profile-service" is forbidden: User "system:serviceaccount:coroner:coroner" '
                   'cannot patch resource "deployments" in API group "apps" in the namespace "prod"',
        "reason": "Forbidden", "details": {"name": "user-profile-service", "group": "apps", "kind": "deployments"},
        "code": 403}
    assert get(api, DEPLOYMENT)["metadata"]["annotations"][REVISION] == "5"
    assert ("patch", "apps", "deployments", "prod") in api.rbac_checks


@pytest.mark.parametrize(("body", "content_type", "code", "reason", "message"), [
    ([{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}], JSON_PATCH, 409, "Conflict",
     'Operation cannot be fulfilled on deployments.apps "user-profile-service": the object has been modified; '
     "please apply your changes to the latest version and try again"),
    ([{"op": "test", "path": "/spec/replicas", "value": 3}], JSON_PATCH, 422, "Invalid",
     "the server rejected our request due to an error in our request"),
    ({"spec": {"template": {"metadata": {"labels": {"app": "other"}}}}}, STRATEGIC_MERGE_PATCH, 422, "Invalid",
     'Deployment.apps "user-profile-service" is invalid: spec.template.metadata.labels: Invalid value: '
     'map[string]string{"app":"other", "app.kubernetes.io/name":"user-profile-service", '
     '"app.kubernetes.io/part-of":"accounts", "team":"identity"}: `selector` does not match template `labels`'),
    ({"spec": {"selector": {"matchLabels": {"app": "x"}}}}, MERGE_PATCH, 422, "Invalid", None),
    ({"spec": {"replicas": -1}}, MERGE_PATCH, 422, "Invalid", None),
    ({"metadata": {"name": "other"}}, MERGE_PATCH, 400, "BadRequest",
     "the name of the object (other) does not match the name on the URL (user-profile-service)"),
    ([{"op": "replace"}], JSON_PATCH, 422, "Invalid", None),
    ({"op": "replace"}, JSON_PATCH, 400, "BadRequest", None),
    ({"spec": {}}, "application/apply-patch+yaml", 415, "UnsupportedMediaType", None),
])
def test_bad_patches_get_the_api_servers_status(api, body, content_type, code, reason, message):
    before = get(api, DEPLOYMENT)
    got, status = patch(api, body, content_type)
    assert (got, status["kind"], status["reason"], status["code"]) == (code, "Status", reason, code)
    if message:
        assert status["message"] == message
    assert get(api, DEPLOYMENT) == before


def test_patching_an_unknown_deployment_is_not_found(api):
    code, status = patch(api, set_image(NEW_IMAGE), STRATEGIC_MERGE_PATCH,
                         path="/apis/apps/v1/namespaces/prod/deployments/nope")
    assert (code, status["message"]) == (404, 'deployments.apps "nope" not found')


def test_discovery_lists_patch_on_deployments_only(api):
    resources = {r["name"]: r["verbs"] for r in get(api, "/apis/apps/v1")["resources"]}
    assert resources == {"deployments": ["get", "list", "patch", "watch"], "replicasets": ["get", "list", "watch"],
                         "daemonsets": ["get", "list", "watch"], "statefulsets": ["get", "list", "watch"],
                         "controllerrevisions": ["get", "list", "watch"]}
