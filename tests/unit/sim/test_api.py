"""The sim's REST answers, checked on the JSON a real API server would send (no sockets)."""

import json

import pytest

from bot.sim.scenario import load_scenario
from bot.sim.server import SimApi

BAD_NODE = "ip-10-0-2-63.ec2.internal"


@pytest.fixture(scope="module")
def api():
    return SimApi(load_scenario("registry-meltdown"))


@pytest.fixture(scope="module")
def forbidden_api():
    scenario = load_scenario("registry-meltdown")
    from bot.sim.model import Forbidden

    scenario.forbidden = (Forbidden("get", "nodes/proxy"), Forbidden("list", "events"))
    return SimApi(scenario)


def get(api, path):
    code, body = api.handle("GET", path)
    return code, json.loads(body)


def test_list_has_kind_api_version_and_resource_version(api):
    code, body = get(api, "/api/v1/nodes")
    assert code == 200
    assert body["kind"] == "NodeList" and body["apiVersion"] == "v1"
    assert body["metadata"]["resourceVersion"]
    assert len(body["items"]) == 6
    assert "kind" not in body["items"][0]  # list items carry no TypeMeta on the wire


def test_get_one_has_type_meta(api):
    code, body = get(api, f"/api/v1/nodes/{BAD_NODE}")
    assert code == 200 and body["kind"] == "Node" and body["metadata"]["name"] == BAD_NODE


def test_not_found_is_a_status(api):
    code, body = get(api, "/apis/apps/v1/namespaces/prod/deployments/nope")
    assert code == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'deployments.apps "nope" not found', "reason": "NotFound",
                    "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404}


def test_unknown_path_is_a_status(api):
    code, body = get(api, "/api/v1/secrets")
    assert code == 404 and body["reason"] == "NotFound"


def test_forbidden_uses_the_real_wording(forbidden_api):
    code, body = get(forbidden_api, f"/api/v1/nodes/{BAD_NODE}/proxy/stats/summary")
    assert code == 403
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == (
        f'nodes "{BAD_NODE}" is forbidden: User "system:serviceaccount:coroner:coroner" cannot get resource '
        '"nodes/proxy" in API group "" at the cluster scope'
    )
    code, body = get(forbidden_api, "/api/v1/namespaces/prod/events")
    assert code == 403
    assert body["message"].endswith('cannot list resource "events" in API group "" in the namespace "prod"')


def test_pods_by_label_and_field(api):
    _, body = get(api, "/api/v1/namespaces/prod/pods?labelSelector=pod-template-hash%3D5b6c4f8d97")
    assert len(body["items"]) == 5
    _, body = get(api, "/api/v1/pods?fieldSelector=status.phase%3DFailed")
    assert {p["status"]["reason"] for p in body["items"]} == {"Evicted"}
    _, body = get(api, f"/api/v1/pods?fieldSelector=spec.nodeName%3D{BAD_NODE}")
    assert body["items"] and all(p["spec"]["nodeName"] == BAD_NODE for p in body["items"])
    _, body = get(api, "/api/v1/pods?labelSelector=app+notin+(user-profile-service)")
    assert body["items"] == []


def test_bad_selector_is_a_bad_request(api):
    code, body = get(api, "/api/v1/pods?fieldSelector=spec.image%3Dx")
    assert code == 400 and body["reason"] == "BadRequest"
    assert body["message"] == "field label not supported: spec.image"


def test_events_by_field(api):
    _, body = get(api, "/api/v1/events?fieldSelector=involvedObject.kind%3DNode,reason%3DNodeNotReady")
    assert len(body["items"]) == 3
    _, body = get(api, "/api/v1/namespaces/prod/events?fieldSelector=type%3DWarning,reason%3DEvicted")
    assert len(body["items"]) == 3


def test_paging_with_limit_and_continue(api):
    _, first = get(api, "/api/v1/namespaces/prod/pods?limit=10")
    assert len(first["items"]) == 10 and first["metadata"]["remainingItemCount"] == 23
    token = first["metadata"]["continue"]
    _, rest = get(api, f"/api/v1/namespaces/prod/pods?limit=100&continue={token}")
    assert len(rest["items"]) == 23 and "continue" not in rest["metadata"]
    code, body = get(api, "/api/v1/namespaces/prod/pods?limit=10&continue=garbage")
    assert code == 400


def test_summary_shape(api):
    code, body = get(api, f"/api/v1/nodes/{BAD_NODE}/proxy/stats/summary")
    assert code == 200
    assert body["node"]["nodeName"] == BAD_NODE
    assert {"availableBytes", "capacityBytes", "usedBytes", "inodesFree"} <= set(body["node"]["fs"])
    assert "imageFs" in body["node"]["runtime"]
    assert all("podRef" in p for p in body["pods"])


def test_apps_and_autoscaling(api):
    _, body = get(api, "/apis/apps/v1/namespaces/prod/replicasets?labelSelector=app%3Duser-profile-service")
    assert body["kind"] == "ReplicaSetList" and len(body["items"]) == 3
    _, body = get(api, "/apis/apps/v1/deployments")
    assert body["kind"] == "DeploymentList" and body["apiVersion"] == "apps/v1"
    _, body = get(api, "/apis/autoscaling/v2/namespaces/prod/horizontalpodautoscalers")
    assert body["kind"] == "HorizontalPodAutoscalerList" and body["apiVersion"] == "autoscaling/v2"


def test_discovery_and_version(api):
    assert get(api, "/version")[1]["gitVersion"] == "v1.29.3-eks-adc7111"
    assert get(api, "/api")[1]["versions"] == ["v1"]
    groups = {g["name"] for g in get(api, "/apis")[1]["groups"]}
    assert groups == {"apps", "autoscaling", "batch", "scheduling.k8s.io", "events.k8s.io"}


def test_writes_other_than_patching_a_deployment_are_refused(api):
    deployment = "/apis/apps/v1/namespaces/prod/deployments/user-profile-service"
    patch = b'[{"op": "replace", "path": "/spec/replicas", "value": 3}]'
    for method, path in (("POST", "/apis/apps/v1/namespaces/prod/deployments"), ("DELETE", deployment),
                         ("PUT", deployment), ("PATCH", "/api/v1/namespaces/prod/pods/x"),
                         ("PATCH", "/apis/apps/v1/namespaces/prod/replicasets/user-profile-service-5b6c4f8d97")):
        code, body = api.handle(method, path, patch, "application/json-patch+json")
        assert (code, json.loads(body)["reason"]) == (405, "MethodNotAllowed"), (method, path)
    assert get(api, deployment)[1]["spec"]["replicas"] == 30
