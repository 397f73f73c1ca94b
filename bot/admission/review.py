"""AdmissionReview v1, the API server's wire format, to typed objects and back.

    request = parse_review(body)          # raises MalformedReview (the route answers 400)
    request.changes                       # the containers whose image this change sets
    review_response(request.uid, allowed=False, message=..., code=403, warnings=[...])

Only what the gate reads is parsed: the workload, the user, the annotations, and each container's image in
the new object and the old one (containers and initContainers of the pod template).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.images.reference import same_repository

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
GATED_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
GATED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
OVERRIDE_ANNOTATION = "coroner.dev/gate"
OVERRIDE_VALUE = "override"


class MalformedReview(ValueError):
    """The body is not an AdmissionReview v1 request; the message says what is wrong, in one line."""


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class ImageChange:
    """A container whose image the change sets. `previous` is the image it replaces: None on CREATE and
    for a container the old object did not have (matched by name, containers and initContainers apart)."""

    container: str
    init: bool
    image: str
    previous: str | None

    def describe(self) -> str:
        where = f"{'init container' if self.init else 'container'} {self.container}"
        return f"{where}: {self.previous} -> {self.image}" if self.previous else f"{where}: {self.image}"


@dataclass(frozen=True)
class ReviewRequest:
    uid: str
    operation: str
    workload: Workload
    user: str
    dry_run: bool
    annotations: Mapping[str, str] = field(default_factory=dict)
    changes: tuple[ImageChange, ...] = ()
    template: Mapping[str, Any] = field(default_factory=dict)  # the new pod template, as sent
    replicas: int | None = None  # the new spec.replicas (none for a DaemonSet)

    @property
    def gated(self) -> bool:
        """A kind and operation the gate judges (the webhook's rules send only these; others pass)."""
        return self.workload.kind in GATED_KINDS and self.operation in GATED_OPERATIONS

    @property
    def overridden(self) -> bool:
        return self.annotations.get(OVERRIDE_ANNOTATION, "").strip() == OVERRIDE_VALUE


def parse_review(body: bytes) -> ReviewRequest:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedReview(f"body is not JSON: {exc}") from None
    except RecursionError:  # `[[[[...` nested past the stack fits well under the body cap
        raise MalformedReview("body is not JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise MalformedReview("body is not a JSON object")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        raise MalformedReview(f"expected apiVersion {API_VERSION} and kind {KIND}, got "
                              f"{_short(document.get('apiVersion'))} and {_short(document.get('kind'))}")
    request = _mapping(document.get("request"), "request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise MalformedReview("request.uid is missing")
    kind = _mapping(request.get("kind"), "request.kind")
    operation = _string(request.get("operation"), "request.operation")
    new = request.get("object")
    old = request.get("oldObject")
    new_object = _mapping(new, "request.object") if new is not None else {}
    old_object = _mapping(old, "request.oldObject") if old is not None else {}
    metadata = _mapping(new_object.get("metadata", {}), "request.object.metadata")
    name = request.get("name") or metadata.get("name") or metadata.get("generateName") or "?"
    workload = Workload(kind=_string(kind.get("kind"), "request.kind.kind"),
                        namespace=str(request.get("namespace") or metadata.get("namespace") or "default"),
                        name=str(name))
    annotations = _mapping(metadata.get("annotations") or {}, "request.object.metadata.annotations")
    user_info = request.get("userInfo")
    user = user_info.get("username") if isinstance(user_info, dict) else None
    review = ReviewRequest(
        uid=uid, operation=operation, workload=workload, user=str(user or "?"),
        dry_run=request.get("dryRun") is True,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )
    if not review.gated or new is None:
        return review
    if operation == "UPDATE" and old is None:
        raise MalformedReview("request.oldObject is missing on an UPDATE")
    spec = _mapping(new_object.get("spec"), "request.object.spec")
    replicas = spec.get("replicas")
    return replace(review, changes=image_changes(new_object, old_object),
                   template=_mapping(spec.get("template"), "request.object.spec.template"),
                   replicas=replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else None)


def image_changes(new: Mapping[str, Any], old: Mapping[str, Any]) -> tuple[ImageChange, ...]:
    """Containers of the new pod template that run an image the old template did not run.

    An image the old pod template already ran, in any container, is no change: a renamed container, a
    sidecar added with the app's own image or two containers swapping images pull nothing new. The image a
    change replaces is the same container's (by name, containers and initContainers apart), else that of
    the one old container from the same repository (a container renamed along with its new image)."""
    old_images = {image for key in ("containers", "initContainers") for _, image in _images(old, key)}
    changes = []
    for init, key in ((False, "containers"), (True, "initContainers")):
        before = _images(old, key)
        by_name = dict(before)
        for container, image in _images(new, key):
            if image in old_images:
                continue
            previous = by_name.get(container)
            if previous is None:
                kept = {name for name, _ in _images(new, key)}
                gone = {img for name, img in before if name not in kept and same_repository(img, image)}
                previous = gone.pop() if len(gone) == 1 else None
            changes.append(ImageChange(container=container, init=init, image=image, previous=previous))
    return tuple(changes)


def _images(workload: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    if not workload:
        return []
    spec = _mapping(workload.get("spec"), "object.spec")
    template = _mapping(spec.get("template"), "object.spec.template")
    pod_spec = _mapping(template.get("spec"), "object.spec.template.spec")
    containers = pod_spec.get(key) or []
    if not isinstance(containers, list):
        raise MalformedReview(f"object.spec.template.spec.{key} is not a list")
    images = []
    for index, container in enumerate(containers):
        container = _mapping(container, f"object.spec.template.spec.{key}[{index}]")
        images.append((_string(container.get("name"), f"{key}[{index}].name"),
                       _string(container.get("image"), f"{key}[{index}].image")))
    return images


def review_response(uid: str, *, allowed: bool, message: str | None = None, code: int | None = None,
                    warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The AdmissionReview the API server expects back: the request's uid, allowed, and for a denial the
    status that `kubectl apply` prints (`admission webhook "..." denied the request: <message>`)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        response["status"] = {"code": code or 403, "message": message or "denied"}
    if warnings:
        response["warnings"] = list(warnings)
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedReview(f"{where} is {'missing' if value is None else 'not an object'}")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedReview(f"{where} is {'missing' if value is None else 'not a non-empty string'}")
    return value


def _short(value: object) -> str:
    return repr(value)[:60]
