"""The simulated Kubernetes API server: real REST paths, real JSON shapes, real `Status` errors.

Every object is serialised once when the server starts (and again when it changes), and each distinct
list query once, so the sim answers a 2,000-node cluster about as fast as the loopback allows: a
benchmark's lower bound measures the network path, not our JSON encoder.

Reads are served for every resource; the one write is PATCH of a Deployment (`bot.sim.writes`), after
which `bot.sim.controller` rolls the new template out, one step per read of the apps API.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from bot.sim.controller import DeploymentController
from bot.sim.kubeconfig import DEFAULT_CONTEXT, write_kubeconfig
from bot.sim.objects import events_v1
from bot.sim.patch import PATCH_TYPES
from bot.sim.model import Scenario
from bot.sim.registry import SimRegistry
from bot.sim.scenario import load_scenario
from bot.sim.selectors import (
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)
from bot.sim.status import SimError, dumps, object_details
from bot.sim.writes import patched_deployment

log = logging.getLogger(__name__)


@dataclass
class _Resource:
    """One served resource type and its pre-serialised objects."""

    resource: str  # plural, as in the URL and RBAC: "pods"
    kind: str
    group: str  # "" for core
    version: str
    namespaced: bool
    items: list[dict[str, Any]]
    item_json: list[bytes] = field(default_factory=list)  # list form: no kind/apiVersion, like the API server
    get_json: list[bytes] = field(default_factory=list)
    by_name: dict[tuple[str | None, str], int] = field(default_factory=dict)
    by_namespace: dict[str | None, list[int]] = field(default_factory=dict)
    mutable: bool = False  # written by PATCH and the deployment controller: read under the SimApi's lock

    def __post_init__(self) -> None:
        self.items = list(self.items)  # writes replace entries here, never in the scenario's own list
        for index, obj in enumerate(self.items):
            item, whole = self.serialise(obj)
            self.item_json.append(item)
            self.get_json.append(whole)
            self._index(index, obj)

    def serialise(self, obj: dict[str, Any]) -> tuple[bytes, bytes]:
        item = dumps({k: v for k, v in obj.items() if k not in ("kind", "apiVersion")})
        # A GET carries TypeMeta first, as the API server writes it.
        type_meta = dumps({"kind": obj.get("kind", self.kind), "apiVersion": obj.get("apiVersion", self.api_version)})
        return item, type_meta[:-1] + (b"," + item[1:] if item != b"{}" else b"}")

    def _key(self, obj: dict[str, Any]) -> tuple[str | None, str]:
        meta = obj["metadata"]
        return (meta.get("namespace") if self.namespaced else None), meta["name"]

    def _index(self, index: int, obj: dict[str, Any]) -> None:
        key = self._key(obj)
        self.by_name[key] = index
        self.by_namespace.setdefault(key[0], []).append(index)

    def find(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        index = self.by_name.get((namespace, name))
        return None if index is None else self.items[index]

    def put(self, obj: dict[str, Any]) -> bytes:
        """Store a new version of an object, or a new object (listed last); returns its GET body."""
        item, whole = self.serialise(obj)
        index = self.by_name.get(self._key(obj))
        if index is None:
            self.items.append(obj)
            self.item_json.append(item)
            self.get_json.append(whole)
            self._index(len(self.items) - 1, obj)
        else:
            self.items[index], self.item_json[index], self.get_json[index] = obj, item, whole
        return whole

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`deployments.apps`, as NotFound messages name a resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[a-z0-9.]+)/(?P<version>v[0-9a-z]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<resource>[a-z]+)(?:/(?P<name>[^/]+))?(?P<sub>/.*)?$"
)


class _Route(NamedTuple):  # a tuple: built on every request, and a frozen dataclass costs a microsecond more
    resource: _Resource
    namespace: str | None
    name: str | None
    sub: str | None
    query: dict[str, str]


class SimApi:
    """Answers requests from a scenario; framework-free so it can be tested without sockets.

    Deployments and ReplicaSets can change (PATCH of a Deployment, then the simulated deployment
    controller); the scenario's own objects are never modified.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        # Every RBAC decision made, as (verb, API group, resource, namespace): what a Role must grant.
        self.rbac_checks: deque[tuple[str, str, str, str | None]] = deque(maxlen=100_000)
        resources = [
            _Resource("nodes", "Node", "", "v1", False, scenario.nodes),
            _Resource("namespaces", "Namespace", "", "v1", False, scenario.namespaces),
            _Resource("pods", "Pod", "", "v1", True, scenario.pods),
            _Resource("events", "Event", "", "v1", True, scenario.events),
            _Resource("deployments", "Deployment", "apps", "v1", True, scenario.deployments, mutable=True),
            _Resource("replicasets", "ReplicaSet", "apps", "v1", True, scenario.replicasets, mutable=True),
            _Resource("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v2", True,
                      scenario.hpas),
            _Resource("jobs", "Job", "batch", "v1", True, scenario.jobs),
            _Resource("cronjobs", "CronJob", "batch", "v1", True, scenario.cronjobs),
            _Resource("daemonsets", "DaemonSet", "apps", "v1", True, scenario.daemonsets),
            _Resource("statefulsets", "StatefulSet", "apps", "v1", True, scenario.statefulsets),
            _Resource("controllerrevisions", "ControllerRevision", "apps", "v1", True, scenario.controllerrevisions),
            _Resource("priorityclasses", "PriorityClass", "scheduling.k8s.io", "v1", False, scenario.priorityclasses),
        ]
        self._by_plural = {r.resource: r for r in resources}
        # The same events through the newer API, converted as the API server converts them.
        resources.append(_Resource("events", "Event", "events.k8s.io", "v1", True,
                                   [events_v1(e) for e in scenario.events]))
        self.resources = {(r.group, r.version, r.resource): r for r in resources}
        self.summaries = {name: dumps(summary) for name, summary in scenario.summaries.items()}
        self._list_cache: dict[tuple[Any, ...], bytes] = {}
        self._cache_lock = threading.Lock()
        self._discovery = self._build_discovery(resources)
        self._write_lock = threading.RLock()
        rv = scenario.resource_version
        self._resource_version = int(rv) if rv.isdigit() else 1
        self._started = time.monotonic()
        self.controller = DeploymentController(self, self.now)

    @property
    def resource_version(self) -> str:
        return str(self._resource_version)

    def now(self) -> datetime:
        """The scenario's `now`, moving on with the wall clock since the sim started."""
        return self.scenario.now + timedelta(seconds=time.monotonic() - self._started)

    # ------------------------------------------------------------ dispatch

    def handle(self, method: str, target: str, body: bytes = b"", content_type: str | None = None) -> tuple[int, bytes]:
        try:
            if method == "PATCH":
                return 200, self._patch(self._route(*self._path(target)), body, content_type)
            if method not in ("GET", "HEAD"):
                raise self._method_not_allowed()
            return 200, self._get(target)
        except SimError as exc:
            return exc.code, exc.body()

    @staticmethod
    def _method_not_allowed() -> SimError:
        return SimError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

    @staticmethod
    def _path(target: str) -> tuple[str, str]:
        url = urlsplit(target)
        # Go's router sees the decoded path: the client sends `proxy/stats%2Fsummary`.
        return unquote(url.path).rstrip("/") or "/", url.query

    def _route(self, path: str, query_string: str) -> _Route:
        match = _PATH.match(path)
        if not match:
            raise SimError(404, "NotFound", "the server could not find the requested resource", {})
        group = match.group("group") or ""
        version = match.group("core") or match.group("version")
        resource = self.resources.get((group, version, match.group("resource")))
        namespace = match.group("ns")
        if resource is None or (namespace is not None and not resource.namespaced):
            raise SimError(404, "NotFound", "the server could not find the requested resource", {})
        query = {k: v[-1] for k, v in parse_qs(query_string).items()}
        return _Route(resource, namespace, match.group("name"), match.group("sub"), query)

    def _get(self, target: str) -> bytes:
        path, query_string = self._path(target)
        discovery = self._discovery.get(path)
        if discovery is not None:
            return discovery
        route = self._route(path, query_string)
        if not route.resource.mutable:
            return self._read(route)
        with self._write_lock:
            self.controller.tick()  # the controller moves on while the client watches
            return self._read(route)

    def _read(self, route: _Route) -> bytes:
        if route.sub:
            return self._subresource(route.resource, route.name, route.sub)
        if route.name is not None:
            return self._get_one(route.resource, route.namespace, route.name)
        return self._list(route.resource, route.namespace, route.query)

    # ------------------------------------------------------------ writes

    def _patch(self, route: _Route, body: bytes, content_type: str | None) -> bytes:
        resource, namespace, name = route.resource, route.namespace, route.name
        if name is None or route.sub or resource.resource != "deployments" or namespace is None:
            raise self._method_not_allowed()
        self._check("patch", resource, namespace, name)
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in PATCH_TYPES:
            raise SimError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                           "accepted media types include: " + ", ".join(PATCH_TYPES), None)
        dry_run = route.query.get("dryRun")
        if dry_run not in (None, "All"):
            raise SimError(422, "Invalid", f'PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                           f'[]string{{"{dry_run}"}}: supported values: "All"', {"group": "meta.k8s.io",
                                                                                 "kind": "PatchOptions"})
        with self._write_lock:
            current = resource.find(namespace, name)
            if current is None:
                raise self._not_found(resource, name)
            updated = patched_deployment(current, body, media, namespace=namespace, name=name)
            if updated == current:  # nothing to store: the API server keeps the object and its resourceVersion
                return resource.get_json[resource.by_name[(namespace, name)]]
            if dry_run:
                return resource.serialise(updated)[1]
            self.put("deployments", updated)
            self.controller.notice(namespace, name)
            return resource.get_json[resource.by_name[(namespace, name)]]

    # ------------------------------------------------------------ the controller's storage (ObjectStore)

    def find(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._by_plural[resource].find(namespace, name)

    def in_namespace(self, resource: str, namespace: str) -> list[dict[str, Any]]:
        served = self._by_plural[resource]
        return [served.items[i] for i in served.by_namespace.get(namespace, ())]

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        """Store under a new resourceVersion, as etcd would; cached lists are stale from now on."""
        with self._write_lock:
            self._resource_version += 1
            obj["metadata"]["resourceVersion"] = self.resource_version
            self._by_plural[resource].put(obj)
            with self._cache_lock:
                self._list_cache.clear()

    # ------------------------------------------------------------ RBAC and latency

    def _check(self, verb: str, resource: _Resource, namespace: str | None, name: str | None,
               rbac_resource: str | None = None) -> None:
        rbac = rbac_resource or resource.resource
        self.rbac_checks.append((verb, resource.group, rbac, namespace))
        if not self.scenario.is_forbidden(verb, rbac, namespace):
            return
        user = self.scenario.user
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        subject = f'{resource.qualified} "{name}"' if name else resource.qualified
        message = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{rbac}" in API group '
                   f'"{resource.group}" {scope}')
        raise SimError(403, "Forbidden", message, object_details(resource.group, resource.resource, name))

    def _not_found(self, resource: _Resource, name: str) -> SimError:
        return SimError(404, "NotFound", f'{resource.qualified} "{name}" not found',
                        object_details(resource.group, resource.resource, name))

    # ------------------------------------------------------------ verbs

    def _get_one(self, resource: _Resource, namespace: str | None, name: str) -> bytes:
        self._check("get", resource, namespace, name)
        index = resource.by_name.get((namespace, name))
        if index is None:
            raise self._not_found(resource, name)
        return resource.get_json[index]

    def _subresource(self, resource: _Resource, name: str | None, sub: str) -> bytes:
        if resource.resource == "nodes" and name and sub.startswith("/proxy"):
            self._check("get", resource, None, name, rbac_resource="nodes/proxy")
            if (None, name) not in resource.by_name:
                raise self._not_found(resource, name)
            path = sub.removeprefix("/proxy").rstrip("/")
            if path != "/stats/summary":
                raise SimError(404, "NotFound", "the server could not find the requested resource", {})
            if name in self.scenario.unavailable_summaries:
                node = resource.items[resource.by_name[(None, name)]]
                ip = node["status"]["addresses"][0]["address"]
                raise SimError(503, "ServiceUnavailable",
                               f"error trying to reach service: dial tcp {ip}:10250: connect: connection refused",
                               None)
            return self.summaries[name]
        raise SimError(404, "NotFound", "the server could not find the requested resource", {})

    def _list(self, resource: _Resource, namespace: str | None, query: dict[str, str]) -> bytes:
        self._check("list", resource, namespace, None)
        label = query.get("labelSelector") or ""
        fields = query.get("fieldSelector") or ""
        limit = int(query["limit"]) if query.get("limit", "").isdigit() and int(query["limit"]) > 0 else None
        cont = query.get("continue") or ""
        cache_key = (resource.qualified, namespace, label, fields, limit, cont)
        cached = self._list_cache.get(cache_key)
        if cached is not None:
            return cached
        try:
            label_reqs = parse_label_selector(label)
            field_reqs = parse_field_selector(fields, supported_fields(resource.qualified))
        except SelectorError as exc:
            raise SimError(400, "BadRequest", str(exc), None) from None
        if namespace is None:
            indices = list(range(len(resource.items)))
        else:
            indices = resource.by_namespace.get(namespace, [])
        if label_reqs:
            indices = [i for i in indices
                       if labels_match(label_reqs, resource.items[i]["metadata"].get("labels") or {})]
        if field_reqs:
            indices = [i for i in indices if fields_match(field_reqs, _field_view(resource.items[i]))]
        offset = _decode_continue(cont) if cont else 0
        page = indices[offset: offset + limit] if limit else indices[offset:]
        meta: dict[str, Any] = {"resourceVersion": self.resource_version}
        remaining = len(indices) - offset - len(page)
        if limit and remaining > 0:
            token = json.dumps({"v": "meta.k8s.io/v1", "rv": self.resource_version,
                                "start": offset + len(page)})
            meta["continue"] = base64.urlsafe_b64encode(token.encode()).decode()
            meta["remainingItemCount"] = remaining
        head = dumps({"kind": f"{resource.kind}List", "apiVersion": resource.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(resource.item_json[i] for i in page) + b"]}"
        with self._cache_lock:
            if len(self._list_cache) < 10_000:
                self._list_cache[cache_key] = body
        return body

    # ------------------------------------------------------------ discovery

    def _build_discovery(self, resources: list[_Resource]) -> dict[str, bytes]:
        groups = {"apps": "v1", "autoscaling": "v2", "batch": "v1", "scheduling.k8s.io": "v1",
                  "events.k8s.io": "v1"}
        out = {
            "/version": dumps(_version(self.scenario.server_version)),
            "/api": dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]}),
            "/apis": dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in groups.items()]}),
        }
        by_group: dict[str, list[dict[str, Any]]] = {}
        for r in resources:
            gv = r.api_version
            entries = by_group.setdefault(gv, [])
            verbs = ["get", "list", "patch", "watch"] if r.resource == "deployments" else ["get", "list", "watch"]
            entries.append({"name": r.resource, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                            "kind": r.kind, "verbs": verbs})
            if r.resource == "nodes":
                entries.append({"name": "nodes/proxy", "singularName": "", "namespaced": False,
                                "kind": "NodeProxyOptions", "verbs": ["create", "delete", "get", "patch", "update"]})
        for gv, entries in by_group.items():
            path = "/api/v1" if gv == "v1" else f"/apis/{gv}"
            out[path] = dumps({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                                "resources": entries})
        return out


def _version(git_version: str) -> dict[str, str]:
    match = re.match(r"v(\d+)\.(\d+)", git_version)
    major, minor = (match.group(1), match.group(2)) if match else ("1", "29")
    return {"major": major, "minor": minor + ("+" if "-" in git_version else ""), "gitVersion": git_version,
            "gitCommit": "a3cb2b5e8e1d5b9a3a3f2d7c1f1e0a8c9d0b6c4e", "gitTreeState": "clean",
            "buildDate": "2024-04-16T20:45:05Z", "goVersion": "go1.21.9", "compiler": "gc",
            "platform": "linux/amd64"}


def _field_view(obj: dict[str, Any]) -> dict[str, Any]:
    """Events select `source` on `source.component`; every other field is the object's own path."""
    if obj.get("kind") == "Event" and isinstance(obj.get("source"), dict):
        return {**obj, "source": obj["source"].get("component", "")}
    return obj


def _decode_continue(token: str) -> int:
    try:
        start = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
        return int(start)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise SimError(400, "BadRequest", "continue key is not valid: invalid continue token", None) from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections to a real API server
    # Headers and body go out as two writes; with Nagle on, each keep-alive answer waits ~40 ms for the
    # client's delayed ACK.
    disable_nagle_algorithm = True
    # Buffered: headers and a small body leave in one segment, flushed once per request.
    wbufsize = 1 << 16
    server: _HttpServer

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Every answer's `Date` is the scenario's time, as a real API server dates answers by its clock:
        clients that take "now" from the cluster (`ServerClock`) see the scenario's `now`."""
        return format_datetime(self.server.sim.api.now(), usegmt=True)

    def do_GET(self) -> None:  # http.server's naming
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_PATCH(self) -> None:
        self._answer("PATCH")

    def do_PUT(self) -> None:
        self._answer("PUT")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request_body = self.rfile.read(length) if length else b""
        sim = self.server.sim
        sim.record(method, self.path)
        if self.path == "/v2" or self.path.startswith("/v2/"):
            self._registry(method)
            return
        if sim.api.scenario.latency_ms:
            time.sleep(sim.api.scenario.latency_ms / 1000)
        code, body = sim.api.handle(method, self.path, request_body, self.headers.get("Content-Type"))
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def _registry(self, method: str) -> None:
        answer = self.server.sim.registry.handle(method, urlsplit(self.path).path)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if method != "HEAD":
            for chunk in answer.body:
                self.wfile.write(chunk)

    def log_message(self, format: str, *args: Any) -> None:  # signature of the base class
        log.debug("sim: " + format, *args)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open many connections at once
    sim: SimServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, Ctrl-C) is normal here; anything else is logged with its trace."""
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError)):
            log.debug("sim: client %s went away", client_address)
            return
        log.exception("sim: error answering %s", client_address)

    def close_connections(self) -> None:
        """End idle keep-alive connections so their handler threads exit with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer


class SimServer:
    """The sim on a loopback port, served from a background thread. Use `running_sim()` in tests."""

    def __init__(self, scenario: Scenario, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.scenario = scenario
        self.api = SimApi(scenario)
        self.registry = SimRegistry(scenario)
        self._httpd = _HttpServer((host, port), _Handler)
        self._httpd.sim = self
        self._thread: threading.Thread | None = None
        self.requests: deque[tuple[str, str]] = deque(maxlen=100_000)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{self.port}"

    def record(self, method: str, path: str) -> None:
        self.requests.append((method, path))

    def paths(self) -> list[str]:
        return [path for _, path in self.requests]

    def start(self) -> SimServer:
        # A short poll: stop() waits for the loop to look (0.5 s by default), and the demo and tests stop often.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"coroner-sim:{self.port}", daemon=True)
        self._thread.start()
        log.info("sim serving %s on %s", self.scenario.name, self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the CLI), until `stop()` or KeyboardInterrupt."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop accepting, end open connections, release the port. Safe to call twice."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def mirror_setting(self) -> str:
        """`CORONER_REGISTRY_MIRRORS=…` sending every registry the scenario's images name to this sim."""
        return "CORONER_REGISTRY_MIRRORS=" + ",".join(f"{registry}={self.url}"
                                                      for registry in sorted(self.registry.registries))

    def write_kubeconfig(self, path: str | Path, *, context: str = DEFAULT_CONTEXT,
                         namespace: str | None = None) -> Path:
        return write_kubeconfig(path, self.url, context=context, namespace=namespace)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_sim(scenario: Scenario | str | Path, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[SimServer]:
    """`with running_sim("registry-meltdown") as sim: sim.url` — a scenario object, name or file."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    server = SimServer(loaded, host=host, port=port)
    with server:
        yield server
