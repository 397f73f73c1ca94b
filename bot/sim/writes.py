"""What the API server does with a PATCH of a Deployment before storing it.

The patch is applied to the stored object (`bot.sim.patch`), then, as the apps/v1 registry does:
the name and namespace must stay those of the URL (400); a `metadata.uid` or `metadata.resourceVersion`
the patch sets is a precondition (409 Conflict when it is not the stored one: optimistic concurrency);
`status` cannot be changed through the main resource; the result is validated (422 Invalid: immutable
selector, template labels the selector must match, containers with a name and an image, replicas >= 0);
and `metadata.generation` goes up when the spec or the annotations changed (`deploymentStrategy.
PrepareForUpdate`), which is what tells the controller there is something to roll out.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.sim.patch import PatchError, apply_patch
from bot.sim.status import SimError, object_details

QUALIFIED = 'deployments.apps'


def _rejected(exc: PatchError) -> SimError:
    if exc.bad_request:
        return SimError(400, "BadRequest", str(exc), None)
    # NewGenericServerResponse(422, ...): the patch is well formed but does not apply to the object.
    return SimError(422, "Invalid", "the server rejected our request due to an error in our request",
                    {"causes": [{"reason": "UnexpectedServerResponse", "message": str(exc)}]})


def _conflict(name: str, why: str) -> SimError:
    return SimError(409, "Conflict", f'Operation cannot be fulfilled on {QUALIFIED} "{name}": {why}',
                    object_details("apps", "deployments", name))


def _invalid(name: str, field: str, detail: str, *, required: bool = False) -> SimError:
    details = object_details("apps", "Deployment", name)
    details["causes"] = [{"reason": "FieldValueRequired" if required else "FieldValueInvalid",
                          "message": detail, "field": field}]
    return SimError(422, "Invalid", f'Deployment.apps "{name}" is invalid: {field}: {detail}', details)


def _go_map(labels: dict[str, Any]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def patched_deployment(current: dict[str, Any], body: bytes, content_type: str, *,
                       namespace: str, name: str) -> dict[str, Any]:
    """The Deployment as it would be stored after this patch (resourceVersion not yet stamped)."""
    try:
        patched = apply_patch(current, body, content_type)
    except PatchError as exc:
        raise _rejected(exc) from None
    meta = patched.get("metadata")
    if not isinstance(meta, dict) or not isinstance(patched.get("spec"), dict):
        raise SimError(400, "BadRequest", "Object 'metadata' or 'spec' is missing or not an object", None)
    if meta.get("name") != name:
        raise SimError(400, "BadRequest",
                       f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})", None)
    if meta.get("namespace", namespace) != namespace:
        raise SimError(400, "BadRequest",
                       "the namespace of the provided object does not match the namespace sent on the request", None)
    stored_meta = current["metadata"]
    if meta.get("uid") and meta["uid"] != stored_meta.get("uid"):
        raise _conflict(name, f"Precondition failed: UID in precondition: {stored_meta.get('uid')}, "
                              f"UID in object meta: {meta['uid']}")
    if meta.get("resourceVersion") and meta["resourceVersion"] != stored_meta.get("resourceVersion"):
        raise _conflict(name, "the object has been modified; please apply your changes to the latest version "
                              "and try again")
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):  # system fields stay the server's
        if key in stored_meta:
            meta[key] = stored_meta[key]
    patched["kind"], patched["apiVersion"] = current.get("kind", "Deployment"), current.get("apiVersion", "apps/v1")
    patched["status"] = copy.deepcopy(current.get("status") or {})
    _validate(patched, current, name)
    if patched["spec"] != current["spec"] or meta.get("annotations") != stored_meta.get("annotations"):
        meta["generation"] = int(stored_meta.get("generation", 1)) + 1
    return patched


def _validate(dep: dict[str, Any], current: dict[str, Any], name: str) -> None:
    spec = dep["spec"]
    if spec.get("selector") != current["spec"].get("selector"):
        raise _invalid(name, "spec.selector", f"Invalid value: {spec.get('selector')!r}: field is immutable")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise _invalid(name, "spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")
    template = spec.get("template")
    if not isinstance(template, dict):
        raise _invalid(name, "spec.template", "Required value", required=True)
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        raise _invalid(name, "spec.template.metadata.labels",
                       f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`")
    containers = (template.get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        raise _invalid(name, "spec.template.spec.containers", "Required value", required=True)
    for index, container in enumerate(containers):
        for key in ("name", "image"):
            if not isinstance(container, dict) or not container.get(key):
                raise _invalid(name, f"spec.template.spec.containers[{index}].{key}", "Required value", required=True)
