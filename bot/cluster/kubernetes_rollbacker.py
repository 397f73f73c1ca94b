"""`ClusterRollbacker` on the official `kubernetes` client: `kubectl rollout undo`, and watching the rollout.

The only module of Coroner that writes to a cluster, and it writes one thing: the JSON patch of
`bot.cluster.rollback.rollback_patch` on one Deployment. Reads go through `KubernetesClusterReader` on
the same connection, so the calls are exactly these three, which `deploy/kubernetes/opt-in/
rollback-role.yaml` grants and nothing more:

- `get deployments` (the Deployment, then its progress),
- `list replicasets` (its revisions, by the Deployment's selector),
- `patch deployments` (the rollback).

Every failure becomes a one-line `RollbackError` subclass; 403 names the verb, resource and namespace to
grant.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from bot.cluster import connection
from bot.cluster.kubernetes_reader import DEFAULT_TIMEOUT, KubernetesClusterReader, send, status_message
from bot.cluster.rollback import (
    JSON_PATCH,
    RollbackResult,
    RolloutProgress,
    equal_ignore_hash,
    find_revision,
    images_of,
    progress_of,
    rollback_patch,
    undo_message,
    watch_rollout,
)
from bot.cluster.snapshots import selector_string
from bot.ports import (
    ClusterForbidden,
    ClusterNotFound,
    ClusterReadError,
    RollbackConflict,
    RollbackError,
    RollbackForbidden,
    RollbackNotFound,
    RollbackPaused,
)

log = logging.getLogger(__name__)

ROLE_FILE = "deploy/kubernetes/opt-in/rollback-role.yaml"


def _forbidden(what: str, *, verb: str, resource: str, namespace: str) -> RollbackForbidden:
    return RollbackForbidden(f"{what}: forbidden: needs {verb} on {resource} in {namespace} "
                             f"(apply {ROLE_FILE} to that namespace)", verb=verb, resource=resource,
                             namespace=namespace)


@contextmanager
def _reads_as_rollback_errors(what: str, namespace: str) -> Iterator[None]:
    """The reader's errors, renamed for a person who asked for a rollback."""
    try:
        yield
    except ClusterForbidden as exc:
        raise _forbidden(what, verb=exc.verb, resource=exc.resource, namespace=namespace) from exc
    except ClusterNotFound as exc:
        raise RollbackNotFound(f"{what}: {exc}") from exc
    except ClusterReadError as exc:
        raise RollbackError(f"{what}: {exc}") from exc


def patch_error(exc: ApiException, *, what: str, namespace: str) -> RollbackError:
    detail = status_message(exc)
    if exc.status == 403:
        return _forbidden(what, verb="patch", resource="deployments", namespace=namespace)
    if exc.status == 404:
        return RollbackNotFound(f"{what}: the Deployment is gone ({detail})")
    if exc.status == 409:
        return RollbackConflict(f"{what}: the Deployment changed while it was patched ({detail}); try again")
    if not exc.status:
        return RollbackError(f"{what}: {detail}")
    return RollbackError(f"{what}: the API server refused the patch: HTTP {exc.status}: {detail}")


class KubernetesRollbacker(connection.ApiClientOwner):
    """Rolls Deployments of one cluster context back. Thread-safe, like the reader it reads through."""

    def __init__(self, api_client: k8s.ApiClient, *, context: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.context = context
        self._api_client = api_client
        self._reader = KubernetesClusterReader(api_client, context=context, timeout=timeout)
        self._apps = k8s.AppsV1Api(api_client)
        self._timeout = timeout

    @classmethod
    def connect(cls, kubeconfig: str | Path | None = None, context: str | None = None, *,
                timeout: float = DEFAULT_TIMEOUT) -> KubernetesRollbacker:
        """The same kubeconfig, context and in-cluster fallback as `KubernetesClusterReader.connect`."""
        try:
            api_client, context = connection.connect(kubeconfig, context, pool_size=4)
        except ClusterReadError as exc:
            raise RollbackError(str(exc)) from exc
        return cls(api_client, context=context, timeout=timeout)

    # ------------------------------------------------------------ ClusterRollbacker

    def rollback(self, *, namespace: str, name: str, to_revision: int, expected_revision: int | None = None,
                 dry_run: bool = False) -> RollbackResult:
        """`kubectl rollout undo deployment/NAME -n NAMESPACE --to-revision=TO_REVISION` (0: the previous one).

        `expected_revision`, when given, is the revision the person saw when the rollback was offered: if
        the Deployment has moved on since, nothing is sent (`RollbackConflict`). `dry_run` sends the patch
        with `dryRun=All`: the API server authorises and validates it, and stores nothing.
        """
        what = f"roll back {namespace}/{name}"
        with _reads_as_rollback_errors(what, namespace):
            dep = self._reader.get_deployment(namespace, name)
            sets = self._reader.list_replicasets(namespace, label_selector=selector_string(dep.selector))
        target = find_revision(dep, sets, to_revision)
        revision = target.revision or to_revision
        if dep.paused:
            raise RollbackPaused(f"{what}: the Deployment is paused; resume it first (kubectl rollout resume "
                                 f"deployment/{name} -n {namespace}) and try again")
        result = RollbackResult(namespace=namespace, name=name, from_revision=dep.revision, to_revision=revision,
                                images=images_of(target.template), from_images=images_of(dep.template),
                                skipped=False, message=undo_message(name), dry_run=dry_run,
                                generation=dep.generation)
        if equal_ignore_hash(target.template, dep.template):
            return replace(result, skipped=True, message=undo_message(name, skipped_for=revision))
        if expected_revision is not None and dep.revision != expected_revision:
            raise RollbackConflict(f"{what}: the Deployment is at revision {dep.revision} now, not "
                                   f"{expected_revision} as when the rollback was offered; diagnose again")
        patched = self._patch(namespace, name, list(rollback_patch(dep, target)), dry_run=dry_run, what=what)
        generation = (patched.get("metadata") or {}).get("generation")
        log.info("%s: revision %s -> %s%s", what, dep.revision, revision, " (dry run)" if dry_run else "",
                 extra={"namespace": namespace, "deployment": name, "to_revision": revision})
        return replace(result, generation=int(generation) if generation is not None else result.generation)

    def rollout_progress(self, *, namespace: str, name: str) -> RolloutProgress:
        with _reads_as_rollback_errors(f"rollout status of {namespace}/{name}", namespace):
            return progress_of(self._reader.get_deployment(namespace, name))

    def wait_for_rollout(self, *, namespace: str, name: str, timeout: float = 600.0,
                         poll: float = 2.0) -> Iterator[RolloutProgress]:
        """Each new state of the rollout until done or failed; `RolloutTimeout` after `timeout` seconds."""
        return watch_rollout(lambda: self.rollout_progress(namespace=namespace, name=name),
                             timeout=timeout, poll=poll)

    # ------------------------------------------------------------ transport

    def _patch(self, namespace: str, name: str, patch: list[dict[str, Any]], *, dry_run: bool,
               what: str) -> dict[str, Any]:
        _, data = send(lambda: self._apps.patch_namespaced_deployment(
                           name, namespace, patch, dry_run="All" if dry_run else None, _content_type=JSON_PATCH,
                           _preload_content=False, _request_timeout=self._timeout),
                       what=what, api_error=lambda exc: patch_error(exc, what=what, namespace=namespace),
                       error=RollbackError, write=True)
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise RollbackError(f"{what}: the API server answered the patch with something other than JSON") from exc
        return body if isinstance(body, dict) else {}
