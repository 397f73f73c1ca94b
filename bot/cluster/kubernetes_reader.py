"""`ClusterReader` on the official `kubernetes` client, with a kubeconfig context or in-cluster config.

The client does transport, auth and kubeconfig handling; bodies are read raw (`_preload_content=False`)
and converted by `bot.cluster.convert`, so no SDK object leaves this module and a 20,000-pod list is not
pushed through the SDK's slow model deserialiser. Every `ApiException` becomes a `ClusterReadError`
subclass that says what was asked and, for 403, which permission is missing.

Kubelet summaries (`nodes/{node}/proxy/stats/summary`, one per node: 2,000 on a 2,000-node cluster) take
a fast path, `_ProxyGetter`: the same GET through the ApiClient's own urllib3 pool manager (so the same
TLS, CA, client certificate and proxy), with the headers the generated method would send (its `Accept`,
the client's default headers, and the bearer token from `Configuration.auth_settings()`, refresh hook
included). It skips what the generated method redoes on every call and does not need here: pydantic
argument validation, parameter serialisation and the refresh hook's proxy-environment rescan (it
reassigns `Configuration.host`): 0.6-0.7 ms of CPU per call instead of about 0.4, paid 2,000 times under
one GIL. Everything else goes through the generated methods. See docs/benchmarks-diagnose.md.

Every request waits `timeout` at most to connect and get its answer's headers, never past the reader's
deadline (`within(deadline)`: each check reads through a view bounded by its own), and a body still
arriving when the deadline passes is cut by the watchdog (`bot.deadline.watching`), so an API server or
a kubelet that drips its answer cannot hold a check past its time. Past the deadline a read raises
`DeadlineExceeded` naming the call.
"""

from __future__ import annotations

import copy
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from bot.cluster import connection, convert
from bot.cluster.server_clock import ServerClock
from bot.deadline import NO_DEADLINE, Deadline, watching
from bot.cluster.snapshots import (
    ControllerRevisionSnapshot,
    DeploymentSnapshot,
    EventSnapshot,
    HpaSnapshot,
    NodeFsSummary,
    NodeSnapshot,
    PodSnapshot,
    ReplicaSetSnapshot,
    WorkloadSnapshot,
)
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReadError, CoronerError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
DEFAULT_PAGE_SIZE = 500


def status_message(exc: ApiException) -> str:
    """The API server's own sentence from the `Status` body (with the causes it does not already say),
    else the HTTP reason."""
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or exc.reason or "no detail")
    details = body.get("details")
    if not isinstance(details, dict):
        details = {}
    causes = [str(c.get("message")) for c in details.get("causes") or () if isinstance(c, dict) and c.get("message")]
    missing = [c for c in causes if c not in message]
    return f"{message}: {'; '.join(missing)}" if missing else message


def map_api_exception(exc: ApiException, *, what: str, verb: str, resource: str) -> ClusterReadError:
    """403 -> ClusterForbidden(verb, resource), 404 -> ClusterNotFound, anything else -> ClusterReadError."""
    detail = status_message(exc)
    if exc.status == 403:
        return ClusterForbidden(f"{what}: forbidden: needs {verb} on {resource} ({detail})",
                                verb=verb, resource=resource)
    if exc.status == 404:
        return ClusterNotFound(f"{what}: not found ({detail})")
    if not exc.status:
        return ClusterReadError(f"{what}: {detail}")
    return ClusterReadError(f"{what}: HTTP {exc.status} {exc.reason or ''}: {detail}".replace("  ", " "))


SUMMARY_PATH = "stats/summary"
# How long the fast path reuses the headers it built. The refresh hook only reloads a token within
# minutes of its expiry (kubeconfig: EXPIRY_SKEW_PREVENTION_DELAY; in-cluster: a 1-minute re-read), so a
# header reused for one second is as fresh as one rebuilt per request.
AUTH_HEADERS_TTL = 1.0


def _timed_out(exc: urllib3.exceptions.HTTPError) -> bool:
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    return isinstance(reason, urllib3.exceptions.ReadTimeoutError)


def _socket_of(response: Any) -> socket.socket | None:
    connection = getattr(response, "connection", None)  # urllib3's, while the body is unread
    return getattr(connection, "sock", None)


def _waiting(what: str) -> tuple[str, str]:
    """A call's `DeadlineExceeded` words: what the check was doing, and what a user was kept waiting for."""
    return f"waiting for the API server: {what}", f"the Kubernetes API ({what})"


def send(request: Callable[[], Any], *, what: str, api_error: Callable[[ApiException], CoronerError],
         error: type[CoronerError] = ClusterReadError, write: bool = False,
         deadline: Deadline = NO_DEADLINE) -> tuple[Any, bytes]:
    """Make one unparsed request and read its whole body, converting transport and API errors: `api_error`
    maps the API server's refusals, `error` is raised for the rest. A `write` that got no answer may have
    been applied, and the message says so. A read that fails once `deadline` has passed (a socket timeout
    bounded by it, or the watchdog's cut) raises `DeadlineExceeded` instead."""
    doing, waited_for = _waiting(what)
    try:
        response = request()
    except ApiException as exc:
        raise api_error(exc) from exc
    except urllib3.exceptions.HTTPError as exc:
        if write and _timed_out(exc):  # the request went out: the API server may have stored it
            raise error(f"{what}: no answer in time; the change may have been applied: check before retrying") from exc
        deadline.check(doing, waited_for=waited_for)
        raise error(f"{what}: cannot reach the API server: {exc}") from exc
    try:
        with watching(deadline) as watch:
            watch.socket(_socket_of(response))
            data = response.data
    except urllib3.exceptions.HTTPError as exc:
        deadline.check(doing, waited_for=waited_for)
        raise error(f"{what}: connection lost while reading: {exc}") from exc
    finally:
        response.release_conn()
    return response, data


def _send(request: Callable[[], Any], *, what: str, verb: str, resource: str,
          deadline: Deadline) -> tuple[Any, bytes]:
    """`send` for reads: 403 and 404 become `ClusterForbidden` and `ClusterNotFound`."""
    doing, waited_for = _waiting(what)
    deadline.check(doing, waited_for=waited_for)
    return send(request, what=what, deadline=deadline,
                api_error=lambda exc: map_api_exception(exc, what=what, verb=verb, resource=resource))


class _ProxyGetter:
    """GET `/api/v1/nodes/{node}/proxy/{path}` as `CoreV1Api.connect_get_node_proxy_with_path` sends it,
    straight through the ApiClient's pool manager."""

    def __init__(self, api_client: k8s.ApiClient, timeout: float) -> None:
        self._api_client = api_client
        configuration = api_client.configuration
        self._configuration = configuration
        self._host = configuration.host
        self._prefix = urllib3.util.parse_url(self._host).path or ""
        self._safe = configuration.safe_chars_for_path_param
        self._timeout = timeout
        self._lock = threading.Lock()
        self._headers: dict[str, str] = {}
        self._headers_at = float("-inf")

    @staticmethod
    def applies(api_client: k8s.ApiClient) -> bool:
        """False when the REST layer would do more than one plain GET (client-go style read retries)."""
        return not getattr(api_client.configuration, "client_go_retries", False)

    def resource_path(self, node: str, path: str) -> str:
        # The generated code quotes path parameters with the configuration's safe characters, so
        # `stats/summary` goes out as `stats%2Fsummary`, as the official client sends it.
        return f"/api/v1/nodes/{quote(node, safe=self._safe)}/proxy/{quote(path, safe=self._safe)}"

    def headers(self) -> dict[str, str]:
        now = time.monotonic()
        with self._lock:
            if now - self._headers_at > AUTH_HEADERS_TTL:
                self._headers = self._build_headers()
                self._headers_at = now
            return self._headers

    def _build_headers(self) -> dict[str, str]:
        """What `param_serialize` builds for this operation: Accept, default headers, cookie, then auth."""
        api_client = self._api_client
        headers: dict[str, str] = {"Accept": "*/*"}
        headers.update(api_client.default_headers)
        if api_client.cookie:
            headers["Cookie"] = api_client.cookie
        auth = self._configuration.auth_settings().get("BearerToken")  # runs the refresh hook
        if auth and auth.get("in") == "header" and auth.get("value"):
            headers[auth["key"]] = auth["value"]
        return headers

    def _connection_pool(self, manager: urllib3.PoolManager) -> urllib3.HTTPConnectionPool | None:
        """The manager's pool for the API server, when requests can go to it directly: a plain
        `PoolManager` only looks the pool up (by a key of every TLS setting) and strips the URL to its
        path before calling it; a `ProxyManager` (a proxy in the kubeconfig or the environment) rewrites
        requests, so it is always called as the REST layer calls it."""
        if type(manager) is not urllib3.PoolManager:
            return None
        return manager.connection_from_url(self._host)

    def get(self, node: str, path: str, *, deadline: Deadline) -> urllib3.BaseHTTPResponse:
        """The raw response (not preloaded); errors are raised exactly as the REST layer raises them."""
        resource_path = self.resource_path(node, path)
        manager = self._api_client.rest_client.pool_manager
        headers = self.headers()
        timeout = urllib3.Timeout(total=deadline.timeout(self._timeout))
        try:
            pool = self._connection_pool(manager)
            if pool is not None:
                try:
                    response = pool.urlopen("GET", self._prefix + resource_path, headers=headers,
                                            timeout=timeout, preload_content=False,
                                            assert_same_host=False, redirect=False)
                except urllib3.exceptions.ClosedPoolError:
                    response = None  # the manager dropped that pool: let it make a new one
                if response is not None and not response.get_redirect_location():
                    return response
                if response is not None:  # the manager follows redirects as the REST layer's call would
                    response.drain_conn()
            return manager.request("GET", self._host + resource_path, headers=headers, timeout=timeout,
                                   preload_content=False)
        except urllib3.exceptions.SSLError as exc:  # the REST layer's own conversion
            raise ApiException(status=0, reason="\n".join([type(exc).__name__, str(exc)])) from exc


class KubernetesClusterReader(connection.ApiClientOwner):
    """Read-only view of one cluster through the official client. Thread-safe: checks call it concurrently."""

    def __init__(self, api_client: k8s.ApiClient, *, context: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, page_size: int | None = DEFAULT_PAGE_SIZE) -> None:
        self.context = context
        self._api_client = api_client
        self._core = k8s.CoreV1Api(api_client)
        self._apps = k8s.AppsV1Api(api_client)
        self._autoscaling = k8s.AutoscalingV2Api(api_client)
        self._batch = k8s.BatchV1Api(api_client)
        self._timeout = timeout
        self._page_size = page_size
        self._proxy = _ProxyGetter(api_client, timeout) if _ProxyGetter.applies(api_client) else None
        self.clock = ServerClock()  # "now" for ages, on the API server's clock (its answers' Date)
        self._deadline = NO_DEADLINE

    def within(self, deadline: Deadline) -> KubernetesClusterReader:
        """A view of this reader (the same connection pool and clock) whose reads stop at `deadline`.
        Close the reader, not its views."""
        view = copy.copy(self)
        view._deadline = deadline
        return view

    # ------------------------------------------------------------ construction

    @classmethod
    def from_kubeconfig(cls, path: str | Path | None = None, context: str | None = None, *,
                        pool_size: int = 32, **kwargs: Any) -> KubernetesClusterReader:
        """From a kubeconfig file (default `~/.kube/config`) and context (default: its current context)."""
        api_client, context = connection.from_kubeconfig(path, context, pool_size=pool_size)
        return cls(api_client, context=context, **kwargs)

    @classmethod
    def in_cluster(cls, *, pool_size: int = 32, **kwargs: Any) -> KubernetesClusterReader:
        """From the pod's service account (token and CA mounted by Kubernetes)."""
        return cls(connection.in_cluster(pool_size=pool_size), context=None, **kwargs)

    @classmethod
    def connect(cls, kubeconfig: str | Path | None = None, context: str | None = None, *,
                pool_size: int = 32, **kwargs: Any) -> KubernetesClusterReader:
        """A kubeconfig when one is given or found; otherwise the in-cluster service account."""
        api_client, context = connection.connect(kubeconfig, context, pool_size=pool_size)
        return cls(api_client, context=context, **kwargs)

    # ------------------------------------------------------------ transport

    def _call(self, fn: Callable[..., Any], *args: Any, what: str, verb: str, resource: str,
              **kwargs: Any) -> Any:
        """One request, its body parsed as JSON; every failure converted at this boundary. Connecting and the
        answer's headers take `timeout` at most (urllib3's total), never past the deadline."""
        deadline = self._deadline
        response, data = _send(
            lambda: fn(*args, _preload_content=False, _request_timeout=deadline.timeout(self._timeout), **kwargs),
            what=what, verb=verb, resource=resource, deadline=deadline)
        self.clock.observe(response.headers.get("Date"))
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ClusterReadError(f"{what}: the API server answered with something other than JSON") from exc

    def _get_proxy(self, node: str, path: str, *, what: str) -> bytes:
        """`_call` for the node-proxy fast path: the same error mapping; the raw body."""
        assert self._proxy is not None
        proxy = self._proxy
        resource = "nodes/proxy"
        deadline = self._deadline
        response, data = _send(lambda: proxy.get(node, path, deadline=deadline), what=what, verb="get",
                               resource=resource, deadline=deadline)
        if not 200 <= response.status <= 299:
            exc = ApiException(status=response.status, reason=response.reason,
                               body=data.decode("utf-8", "replace"))
            raise map_api_exception(exc, what=what, verb="get", resource=resource) from exc
        return data

    def _list(self, fn: Callable[..., Any], *args: Any, what: str, resource: str, **kwargs: Any) -> Iterator[Any]:
        """Every item of a list, following `continue` tokens page by page as kubectl does."""
        token: str | None = None
        while True:
            paging: dict[str, Any] = {}
            if self._page_size:
                paging["limit"] = self._page_size
            if token:
                paging["_continue"] = token
            body = self._call(fn, *args, what=what, verb="list", resource=resource, **kwargs, **paging)
            yield from body.get("items") or ()
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return

    @staticmethod
    def _selectors(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
        out = {}
        if label_selector:
            out["label_selector"] = label_selector
        if field_selector:
            out["field_selector"] = field_selector
        return out

    # ------------------------------------------------------------ ClusterReader

    def list_nodes(self) -> list[NodeSnapshot]:
        return [convert.node(n) for n in self._list(self._core.list_node, what="list nodes", resource="nodes")]

    def node_fs_summary(self, node: str, *, pods: bool = False) -> NodeFsSummary:
        # The node proxy returns the kubelet's JSON as a string; parsed by the SDK it comes back mangled
        # (kubernetes-client/python#2158), hence the raw body.
        what = f"kubelet summary of node {node}"
        if self._proxy is None:
            body = self._call(self._core.connect_get_node_proxy_with_path, node, SUMMARY_PATH,
                              what=what, verb="get", resource="nodes/proxy")
            return convert.node_fs_summary(node, body, pods=pods)
        data = self._get_proxy(node, SUMMARY_PATH, what=what)
        try:
            return convert.node_fs_summary_body(node, data, pods=pods)
        except ValueError as exc:
            raise ClusterReadError(f"{what}: the API server answered with something other than JSON") from exc

    def list_namespaces(self) -> list[str]:
        items = self._list(self._core.list_namespace, what="list namespaces", resource="namespaces")
        return [str((n.get("metadata") or {}).get("name", "")) for n in items]

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        items = list(self._list(self._core.list_namespace, what=f"labels of namespace {namespace}",
                                resource="namespaces", field_selector=f"metadata.name={namespace}"))
        if not items:
            raise ClusterNotFound(f"namespace {namespace} not found")
        return {str(k): str(v) for k, v in ((items[0].get("metadata") or {}).get("labels") or {}).items()}

    def list_pods(self, namespace: str | None, *, label_selector: str | None = None,
                  field_selector: str | None = None) -> list[PodSnapshot]:
        selectors = self._selectors(label_selector, field_selector)
        if namespace is None:
            items = self._list(self._core.list_pod_for_all_namespaces, what="list pods in all namespaces",
                               resource="pods", **selectors)
        else:
            items = self._list(self._core.list_namespaced_pod, namespace, what=f"list pods of {namespace}",
                               resource="pods", **selectors)
        return [convert.pod(p) for p in items]

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[EventSnapshot]:
        selectors = self._selectors(None, field_selector)
        if namespace is None:
            items = self._list(self._core.list_event_for_all_namespaces, what="list events in all namespaces",
                               resource="events", **selectors)
        else:
            items = self._list(self._core.list_namespaced_event, namespace, what=f"list events of {namespace}",
                               resource="events", **selectors)
        return [convert.event(e) for e in items]

    def get_deployment(self, namespace: str, name: str) -> DeploymentSnapshot:
        body = self._call(self._apps.read_namespaced_deployment, name, namespace,
                          what=f"get deployment {namespace}/{name}", verb="get", resource="deployments")
        return convert.deployment(body)

    def list_deployments(self, namespace: str | None, *, label_selector: str | None = None
                         ) -> list[DeploymentSnapshot]:
        selectors = self._selectors(label_selector, None)
        if namespace is None:
            items = self._list(self._apps.list_deployment_for_all_namespaces,
                               what="list deployments in all namespaces", resource="deployments", **selectors)
        else:
            items = self._list(self._apps.list_namespaced_deployment, namespace,
                               what=f"list deployments of {namespace}", resource="deployments", **selectors)
        return [convert.deployment(d) for d in items]

    def list_replicasets(self, namespace: str, *, label_selector: str | None = None) -> list[ReplicaSetSnapshot]:
        items = self._list(self._apps.list_namespaced_replica_set, namespace,
                           what=f"list replicasets of {namespace}", resource="replicasets",
                           **self._selectors(label_selector, None))
        return [convert.replicaset(r) for r in items]

    def list_jobs(self, namespace: str | None) -> list[WorkloadSnapshot]:
        """batch/v1 Jobs: a pod's Job, and through the Job's owner references its CronJob."""
        if namespace is None:
            items = self._list(self._batch.list_job_for_all_namespaces, what="list jobs in all namespaces",
                               resource="jobs")
        else:
            items = self._list(self._batch.list_namespaced_job, namespace, what=f"list jobs of {namespace}",
                               resource="jobs")
        return [convert.workload(j, "Job") for j in items]

    def get_statefulset(self, namespace: str, name: str) -> WorkloadSnapshot:
        body = self._call(self._apps.read_namespaced_stateful_set, name, namespace,
                          what=f"get statefulset {namespace}/{name}", verb="get", resource="statefulsets")
        return convert.workload(body, "StatefulSet")

    def get_daemonset(self, namespace: str, name: str) -> WorkloadSnapshot:
        body = self._call(self._apps.read_namespaced_daemon_set, name, namespace,
                          what=f"get daemonset {namespace}/{name}", verb="get", resource="daemonsets")
        return convert.workload(body, "DaemonSet")

    def list_statefulsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        if namespace is None:
            items = self._list(self._apps.list_stateful_set_for_all_namespaces,
                               what="list statefulsets in all namespaces", resource="statefulsets")
        else:
            items = self._list(self._apps.list_namespaced_stateful_set, namespace,
                               what=f"list statefulsets of {namespace}", resource="statefulsets")
        return [convert.workload(s, "StatefulSet") for s in items]

    def list_daemonsets(self, namespace: str | None) -> list[WorkloadSnapshot]:
        if namespace is None:
            items = self._list(self._apps.list_daemon_set_for_all_namespaces,
                               what="list daemonsets in all namespaces", resource="daemonsets")
        else:
            items = self._list(self._apps.list_namespaced_daemon_set, namespace,
                               what=f"list daemonsets of {namespace}", resource="daemonsets")
        return [convert.workload(d, "DaemonSet") for d in items]

    def list_controllerrevisions(self, namespace: str, *, label_selector: str | None = None
                                 ) -> list[ControllerRevisionSnapshot]:
        items = self._list(self._apps.list_namespaced_controller_revision, namespace,
                           what=f"list controllerrevisions of {namespace}", resource="controllerrevisions",
                           **self._selectors(label_selector, None))
        return [convert.controller_revision(r) for r in items]

    def list_hpas(self, namespace: str) -> list[HpaSnapshot]:
        items = self._list(self._autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace,
                           what=f"list horizontalpodautoscalers of {namespace}",
                           resource="horizontalpodautoscalers")
        return [convert.hpa(h) for h in items]

    def server_version(self) -> str:
        """`gitVersion` of the API server (a cheap connectivity check)."""
        body = self._call(k8s.VersionApi(self._api_client).get_code, what="get version", verb="get",
                          resource="version")
        return str(body.get("gitVersion", ""))

