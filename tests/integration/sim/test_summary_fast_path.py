"""The kubelet-summary fast path (`_ProxyGetter`): the official client's own pool and auth, the same
request on the wire as the generated `connect_get_node_proxy_with_path`, the same error mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
from kubernetes.client.exceptions import ApiException

from bot.cluster import kubernetes_reader
from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.ports import ClusterForbidden, ClusterNotFound, ClusterReadError
from bot.sim.kubeconfig import SIM_TOKEN, write_kubeconfig
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim
from tests.doubles.loopback import serving_http

BAD_NODE = "ip-10-0-2-63.ec2.internal"


def _official(reader: KubernetesClusterReader) -> KubernetesClusterReader:
    reader._proxy = None  # the generated method, to compare against
    return reader


@contextmanager
def _reader(scenario_name: str, tmp_path: Path, **kwargs: object) -> Iterator[KubernetesClusterReader]:
    scenario = load_scenario(scenario_name)
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path, **kwargs) as reader:  # type: ignore[arg-type]
            yield reader


class _Capture(BaseHTTPRequestHandler):
    """Records each request line and its headers; answers with a fixed status and body."""

    protocol_version = "HTTP/1.1"
    status = 200
    body = b"{}"
    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def do_GET(self) -> None:  # http.server's naming
        type(self).seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _capturing(tmp_path: Path, *, status: int = 200, body: bytes = b"{}") -> Iterator[tuple[Path, type[_Capture]]]:
    handler = type("Handler", (_Capture,), {"status": status, "body": body, "seen": []})
    with serving_http(handler) as server:
        handler.port = int(server.url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
        yield write_kubeconfig(tmp_path / "config", server.url), handler


SUMMARY = {"node": {"nodeName": "n1", "fs": {"capacityBytes": 100, "availableBytes": 10, "usedBytes": 90},
                    "runtime": {"imageFs": {"capacityBytes": 200, "availableBytes": 50, "usedBytes": 150}}},
           "pods": []}


def test_fast_path_sends_what_the_generated_method_sends(tmp_path):
    with _capturing(tmp_path, body=json.dumps(SUMMARY).encode()) as (path, handler):
        with KubernetesClusterReader.from_kubeconfig(path) as fast:
            assert fast._proxy is not None
            manager = fast._api_client.rest_client.pool_manager
            assert fast._proxy._connection_pool(manager) is not None  # straight to the pool
            via_fast = fast.node_fs_summary("node/1 a")
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            via_sdk = _official(reader).node_fs_summary("node/1 a")
    assert via_fast == via_sdk
    assert via_fast.nodefs is not None and via_fast.nodefs.used_ratio == pytest.approx(0.9)
    (fast_path, fast_headers), (sdk_path, sdk_headers) = handler.seen
    assert fast_path == sdk_path == "/api/v1/nodes/node%2F1%20a/proxy/stats%2Fsummary"
    assert fast_headers == sdk_headers
    assert fast_headers["authorization"] == f"Bearer {SIM_TOKEN}"
    assert fast_headers["accept"] == "*/*" and fast_headers["user-agent"].startswith("OpenAPI-Generator/")


def test_fast_path_matches_the_generated_method_on_the_sim(tmp_path):
    with _reader("registry-meltdown", tmp_path) as fast:
        names = [n.name for n in fast.list_nodes()]
        with KubernetesClusterReader.from_kubeconfig(tmp_path / "config") as reader:
            sdk = _official(reader)
            assert [fast.node_fs_summary(n) for n in names] == [sdk.node_fs_summary(n) for n in names]


def test_fast_path_maps_the_rbac_forbidden_scenario(tmp_path):
    with _reader("rbac-forbidden", tmp_path) as reader:
        with pytest.raises(ClusterForbidden) as info:
            reader.node_fs_summary(BAD_NODE)
        assert (info.value.verb, info.value.resource) == ("get", "nodes/proxy")
        assert 'forbidden: needs get on nodes/proxy (nodes "' in str(info.value)
        assert 'cannot get resource "nodes/proxy"' in str(info.value)  # the API server's own sentence
        assert isinstance(info.value.__cause__, ApiException) and info.value.__cause__.status == 403
        assert reader.list_nodes()  # the rest still answers
        with KubernetesClusterReader.from_kubeconfig(tmp_path / "config") as sdk:
            with pytest.raises(ClusterForbidden) as via_sdk:
                _official(sdk).node_fs_summary(BAD_NODE)
        assert str(via_sdk.value) == str(info.value)


def test_fast_path_maps_404_and_503_like_the_generated_method(tmp_path):
    scenario = load_scenario("registry-meltdown")
    scenario.unavailable_summaries = frozenset({BAD_NODE})
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path) as fast, \
                KubernetesClusterReader.from_kubeconfig(path) as reader:
            sdk = _official(reader)
            for node, kind in (("no-such-node", ClusterNotFound), (BAD_NODE, ClusterReadError)):
                errors = []
                for r in (fast, sdk):
                    with pytest.raises(kind) as info:
                        r.node_fs_summary(node)
                    errors.append(str(info.value))
                assert errors[0] == errors[1]
            assert "HTTP 503" in errors[0] and "connection refused" in errors[0]


def test_fast_path_timeout_is_a_read_error(tmp_path):
    scenario = load_scenario("registry-meltdown")
    scenario.latency_ms = 3000
    with running_sim(scenario) as server:
        path = server.write_kubeconfig(tmp_path / "config")
        with KubernetesClusterReader.from_kubeconfig(path, timeout=0.3) as reader:
            with pytest.raises(ClusterReadError, match=f"kubelet summary of node {BAD_NODE}: cannot reach") as info:
                reader.node_fs_summary(BAD_NODE)
            assert not isinstance(info.value, (ClusterForbidden, ClusterNotFound))
            assert "timed out" in str(info.value).lower()


def test_fast_path_unreachable_server_is_a_read_error(tmp_path):
    with running_sim("registry-meltdown") as server:
        path = server.write_kubeconfig(tmp_path / "config")
    with KubernetesClusterReader.from_kubeconfig(path, timeout=2) as reader:
        with pytest.raises(ClusterReadError, match="cannot reach the API server"):
            reader.node_fs_summary(BAD_NODE)


def test_fast_path_rejects_a_body_that_is_not_json(tmp_path):
    with _capturing(tmp_path, body=b"<html>proxy error</html>") as (path, _):
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            with pytest.raises(ClusterReadError, match="something other than JSON"):
                reader.node_fs_summary("n1")


def test_fast_path_maps_401_to_a_read_error(tmp_path):
    body = json.dumps({"kind": "Status", "message": "Unauthorized", "code": 401}).encode()
    with _capturing(tmp_path, status=401, body=body) as (path, _):
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            with pytest.raises(ClusterReadError, match="HTTP 401 Unauthorized: Unauthorized") as info:
                reader.node_fs_summary("n1")
            assert not isinstance(info.value, (ClusterForbidden, ClusterNotFound))


def test_fast_path_follows_a_token_refreshed_by_the_clients_hook(tmp_path, monkeypatch):
    monkeypatch.setattr(kubernetes_reader, "AUTH_HEADERS_TTL", -1.0)  # rebuild the headers on every call
    with _capturing(tmp_path, body=json.dumps(SUMMARY).encode()) as (path, handler):
        with KubernetesClusterReader.from_kubeconfig(path) as reader:
            reader.node_fs_summary("n1")
            configuration = reader._api_client.configuration

            def rotate(config: object) -> None:
                configuration.api_key["BearerToken"] = "Bearer rotated-token"  # as kube_config stores it

            configuration.refresh_api_key_hook = rotate
            reader.node_fs_summary("n1")
    assert [h["authorization"] for _, h in handler.seen] == [f"Bearer {SIM_TOKEN}", "Bearer rotated-token"]


def test_client_go_retries_fall_back_to_the_generated_method(tmp_path):
    with _reader("registry-meltdown", tmp_path) as reader:
        reader._api_client.configuration.client_go_retries = True
        again = KubernetesClusterReader(reader._api_client)
        assert again._proxy is None
        assert again.node_fs_summary(BAD_NODE).imagefs is not None


def _kubeconfig(path: Path, cluster: dict[str, str]) -> Path:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": cluster}],
              "users": [{"name": "u", "user": {"token": SIM_TOKEN}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _both(path: Path) -> tuple[object, object]:
    with KubernetesClusterReader.from_kubeconfig(path) as fast:
        via_fast = fast.node_fs_summary("n1")
    with KubernetesClusterReader.from_kubeconfig(path) as reader:
        via_sdk = _official(reader).node_fs_summary("n1")
    return via_fast, via_sdk


def test_fast_path_keeps_a_server_url_path_prefix(tmp_path):
    """Rancher-style `server: https://host/k8s/clusters/c-1`: the prefix stays in every request."""
    with _capturing(tmp_path, body=json.dumps(SUMMARY).encode()) as (path, handler):
        port = handler.port  # type: ignore[attr-defined]
        config = _kubeconfig(tmp_path / "prefixed", {"server": f"http://127.0.0.1:{port}/k8s/clusters/c-1"})
        via_fast, via_sdk = _both(config)
    assert via_fast == via_sdk
    assert [p for p, _ in handler.seen] == ["/k8s/clusters/c-1/api/v1/nodes/n1/proxy/stats%2Fsummary"] * 2


def test_fast_path_goes_through_a_kubeconfig_proxy_like_the_client(tmp_path):
    """With `proxy-url` the client's pool manager is a ProxyManager: the fast path calls it as the REST
    layer does, so the proxy sees the same absolute-form request."""
    with _capturing(tmp_path, body=json.dumps(SUMMARY).encode()) as (path, handler):
        port = handler.port  # type: ignore[attr-defined]
        config = _kubeconfig(tmp_path / "proxied", {"server": "http://kube.invalid:6443",
                                                    "proxy-url": f"http://127.0.0.1:{port}"})
        via_fast, via_sdk = _both(config)
        with KubernetesClusterReader.from_kubeconfig(config) as reader:
            manager = reader._api_client.rest_client.pool_manager
            assert reader._proxy._connection_pool(manager) is None  # through the ProxyManager
    assert via_fast == via_sdk and via_fast.nodefs is not None
    (fast_path, fast_headers), (sdk_path, sdk_headers) = handler.seen
    assert fast_path == sdk_path == "http://kube.invalid:6443/api/v1/nodes/n1/proxy/stats%2Fsummary"
    assert fast_headers == sdk_headers


def test_fast_path_follows_a_redirect_like_the_client(tmp_path):
    summary = json.dumps(SUMMARY).encode()

    class Redirecting(_Capture):
        seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

        def do_GET(self) -> None:
            type(self).seen.append((self.path, {}))
            moved = self.path.endswith("stats%2Fsummary")
            body = b"" if moved else summary
            self.send_response(307 if moved else 200)
            if moved:
                self.send_header("Location", "/moved/summary")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving_http(Redirecting) as server:
        via_fast, via_sdk = _both(write_kubeconfig(tmp_path / "config", server.url))
    assert via_fast == via_sdk and via_fast.nodefs is not None
    paths = [p for p, _ in Redirecting.seen]
    assert paths.count("/moved/summary") == 2
