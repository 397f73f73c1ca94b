"""The three PATCH bodies the API server accepts for built-in types, applied to plain JSON.

- `application/json-patch+json`: RFC 6902 operations (`add`, `remove`, `replace`, `move`, `copy`,
  `test`) on RFC 6901 pointers, with the error sentences of evanphx/json-patch, the library the API
  server uses. `kubectl rollout undo` sends this one.
- `application/merge-patch+json`: RFC 7386 (maps merge, `null` deletes, lists are replaced).
- `application/strategic-merge-patch+json`: a merge patch in which the lists Kubernetes declares with a
  merge key (containers by `name`, ports by `containerPort`, ...) merge element by element, with the
  `$patch: delete|replace` and `$retainKeys` directives (`kubectl rollout pause`, `kubectl set image`).

Errors are `PatchError`s: `bad_request` (the body cannot be read: 400) or not (it cannot be applied:
422), as the API server answers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)

# Lists with `patchStrategy: merge` in k8s.io/api, by field name (Deployments and their pod templates).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "ports": "containerPort", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
}
MERGED_PRIMITIVE_LISTS = {"finalizers"}  # patchStrategy merge on a list of strings: a union


class PatchError(Exception):
    def __init__(self, message: str, *, bad_request: bool = False) -> None:
        super().__init__(message)
        self.bad_request = bad_request


def apply_patch(document: dict[str, Any], body: bytes, content_type: str) -> dict[str, Any]:
    """A patched deep copy of `document`; the original is left untouched."""
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise PatchError(f"error decoding patch: {exc}", bad_request=True) from None
    if content_type == JSON_PATCH:
        return json_patch(document, patch)
    if not isinstance(patch, dict):
        raise PatchError("json: cannot unmarshal the patch into an object: a merge patch is a JSON object",
                         bad_request=True)
    if content_type == MERGE_PATCH:
        return merge_patch(document, patch)
    return strategic_merge_patch(document, patch)


# ---------------------------------------------------------------- RFC 6902


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}: it must start with /")
    if path == "":
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str, path: str, what: str = "path") -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing {what}: {path}")
    return node, parts[-1]


def _index(container: list[Any], key: str, op: str, path: str, *, insert: bool = False) -> int:
    if insert and key == "-":
        return len(container)
    if not key.isdigit():
        raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
    index = int(key)
    if index > len(container) or (index == len(container) and not insert):
        raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
    return index


def _target(doc: Any, path: str, op: str, *, insert: bool = False) -> tuple[Any, Any]:
    """The container that holds `path`'s last step, and that step: a key, or a list index."""
    parent, key = _parent(doc, _pointer(path), op, path)
    if isinstance(parent, dict):
        return parent, key
    if isinstance(parent, list):
        return parent, _index(parent, key, op, path, insert=insert)
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")


def _existing(doc: Any, path: str, op: str) -> tuple[Any, Any]:
    parent, key = _target(doc, path, op)
    if isinstance(parent, dict) and key not in parent:
        raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
    return parent, key


def _get(doc: Any, path: str, op: str) -> Any:
    if not _pointer(path):
        return doc
    parent, key = _existing(doc, path, op)
    return parent[key]


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    if not _pointer(path):
        return value
    parent, key = _target(doc, path, op, insert=True)
    if isinstance(parent, list):
        parent.insert(key, value)
    else:
        parent[key] = value
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    if not _pointer(path):
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent, key = _existing(doc, path, op)
    del parent[key]
    return doc


def _replace(doc: Any, path: str, value: Any) -> Any:
    """Replace in place (keys keep their order); the target must exist."""
    if not _pointer(path):
        return value
    parent, key = _existing(doc, path, "replace")
    parent[key] = value
    return doc


def json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", bad_request=True)
    doc: Any = copy.deepcopy(document)
    for operation in operations:
        op, path = operation.get("op"), operation.get("path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op} operation does not apply: missing value")
        value = copy.deepcopy(operation.get("value"))
        if op == "add":
            doc = _add(doc, path, value)
        elif op == "remove":
            doc = _remove(doc, path)
        elif op == "replace":
            doc = _replace(doc, path, value)
        elif op in ("move", "copy"):
            source = operation.get("from")
            moved = copy.deepcopy(_get(doc, source, op))
            if op == "move":
                doc = _remove(doc, source, op)
            doc = _add(doc, path, moved, op)
        elif op == "test":
            if _get(doc, path, "test") != value:
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {op}")
    if not isinstance(doc, dict):
        raise PatchError("the patched document is not a JSON object")
    return doc


# ---------------------------------------------------------------- RFC 7386


def merge_patch(document: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# ---------------------------------------------------------------- strategic merge


def strategic_merge_patch(document: Any, patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    if directive is not None:
        raise PatchError(f"Unknown patch type: {directive}", bad_request=True)
    out = copy.deepcopy(document) if isinstance(document, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$"):
            if not key.startswith(("$setElementOrder/", "$deleteFromPrimitiveList/", "$retainKeys")):
                raise PatchError(f"Unknown patch directive: {key}", bad_request=True)
            if key.startswith("$deleteFromPrimitiveList/"):
                field = key.split("/", 1)[1]
                out[field] = [v for v in out.get(field) or [] if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list) and key in MERGE_KEYS:
            out[key] = _merge_list(out.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in MERGED_PRIMITIVE_LISTS:
            current = list(out.get(key) or [])
            out[key] = current + [v for v in value if v not in current]
        else:
            out[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(current: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    out = copy.deepcopy(current)
    for element in patch:
        if not isinstance(element, dict) or merge_key not in element:
            raise PatchError(f"map: {element!r} does not contain declared merge key: {merge_key}", bad_request=True)
        index = next((i for i, e in enumerate(out) if isinstance(e, dict) and e.get(merge_key) == element[merge_key]),
                     None)
        if element.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append({k: v for k, v in copy.deepcopy(element).items() if not k.startswith("$")})
        else:
            out[index] = strategic_merge_patch(out[index], element)
    return out
