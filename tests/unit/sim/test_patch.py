"""The sim's three PATCH formats, on small documents (RFC 6902 / RFC 7386 examples, Kubernetes merge keys)."""

import json

import pytest

from bot.sim.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    apply_patch,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

DOC = {"metadata": {"name": "web", "annotations": {"a": "1", "x/y": "2"}},
       "spec": {"list": [1, 2, 3], "template": {"image": "old"}}}


def test_json_patch_operations_follow_rfc_6902():
    ops = [
        {"op": "add", "path": "/spec/list/1", "value": 9},
        {"op": "add", "path": "/spec/list/-", "value": 4},
        {"op": "remove", "path": "/spec/list/0"},
        {"op": "replace", "path": "/spec/template", "value": {"image": "new"}},
        {"op": "copy", "from": "/spec/template/image", "path": "/metadata/image"},
        {"op": "move", "from": "/metadata/annotations/x~1y", "path": "/metadata/moved"},
        {"op": "test", "path": "/metadata/moved", "value": "2"},
    ]
    out = json_patch(DOC, ops)
    assert out["spec"] == {"list": [9, 2, 3, 4], "template": {"image": "new"}}
    assert out["metadata"] == {"name": "web", "annotations": {"a": "1"}, "image": "new", "moved": "2"}
    assert DOC["spec"]["list"] == [1, 2, 3]  # the stored object is never modified in place


def test_replace_keeps_key_order_and_needs_the_target():
    out = json_patch(DOC, [{"op": "replace", "path": "/metadata/annotations", "value": {}}])
    assert list(out["metadata"]) == ["name", "annotations"]
    with pytest.raises(PatchError, match="replace operation does not apply: doc is missing key: /spec/nope") as info:
        json_patch(DOC, [{"op": "replace", "path": "/spec/nope", "value": 1}])
    assert not info.value.bad_request  # applies to nothing: 422, not 400


@pytest.mark.parametrize(("ops", "message"), [
    ([{"op": "test", "path": "/metadata/name", "value": "api"}], "testing value /metadata/name failed: test failed"),
    ([{"op": "remove", "path": "/spec/list/7"}], "remove operation does not apply: doc is missing key: /spec/list/7"),
    ([{"op": "add", "path": "/nope/deeper", "value": 1}], "add operation does not apply: doc is missing path: /nope/deeper"),
    ([{"op": "frobnicate", "path": "/spec"}], "Unexpected kind: frobnicate"),
    ([{"op": "add", "path": "spec", "value": 1}], "invalid JSON pointer 'spec': it must start with /"),
])
def test_json_patch_failures_use_the_libraries_sentences(ops, message):
    with pytest.raises(PatchError, match=message):
        json_patch(DOC, ops)


def test_unreadable_bodies_are_bad_requests():
    for body, content_type in ((b"{not json", JSON_PATCH), (b'{"op": "add"}', JSON_PATCH), (b"[1]", MERGE_PATCH)):
        with pytest.raises(PatchError) as info:
            apply_patch(DOC, body, content_type)
        assert info.value.bad_request, body


def test_merge_patch_follows_rfc_7386():
    out = merge_patch(DOC, {"metadata": {"annotations": {"a": None, "b": "3"}}, "spec": {"list": [7]}})
    assert out["metadata"]["annotations"] == {"x/y": "2", "b": "3"}
    assert out["spec"] == {"list": [7], "template": {"image": "old"}}


POD = {"spec": {"paused": False, "template": {"spec": {"containers": [
    {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
    {"name": "sidecar", "image": "proxy:1"},
]}}}}


def test_strategic_merge_merges_lists_by_their_merge_key():
    patch = {"spec": {"paused": True, "template": {"spec": {"containers": [
        {"name": "app", "image": "app:2", "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]},
    ]}}}}
    out = strategic_merge_patch(POD, patch)
    app, sidecar = out["spec"]["template"]["spec"]["containers"]
    assert out["spec"]["paused"] is True
    assert app == {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]}
    assert sidecar == {"name": "sidecar", "image": "proxy:1"}  # untouched, where a merge patch would drop it


def test_strategic_merge_directives():
    replaced = strategic_merge_patch(POD, {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "x"}, {"$patch": "replace"}]}}}})
    assert replaced["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "x"}]
    deleted = strategic_merge_patch(POD, {"spec": {"template": {"$patch": "delete"}}})
    assert "template" not in deleted["spec"]
    with pytest.raises(PatchError, match="does not contain declared merge key: name"):
        strategic_merge_patch(POD, {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})


def test_apply_patch_dispatches_on_the_content_type():
    body = json.dumps({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:3"}]}}}}).encode()
    smp = apply_patch(POD, body, STRATEGIC_MERGE_PATCH)["spec"]["template"]["spec"]["containers"]
    merged = apply_patch(POD, body, MERGE_PATCH)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in smp] == ["app", "sidecar"] and smp[0]["env"]
    assert merged == [{"name": "app", "image": "app:3"}]
