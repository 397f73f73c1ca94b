"""The fast path over TLS with a client certificate: it uses the official client's own pool manager, so
the CA, the server name check and the client certificate from the kubeconfig apply to it unchanged."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cluster.kubernetes_reader import KubernetesClusterReader
from bot.ports import ClusterReadError

pytestmark = [
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for test certificates"),
    pytest.mark.slow,  # makes a CA and certificates with the openssl CLI
]

SUMMARY = json.dumps({"node": {"nodeName": "n1", "fs": {"capacityBytes": 100, "availableBytes": 10,
                                                       "usedBytes": 90}}, "pods": []}).encode()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by that CA; and a
    second CA that signed nothing."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=test-ca", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt",
             "-days", "2", "-subj", "/CN=other-ca", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject, ext in (("server", "/CN=127.0.0.1", ["-extfile", "san.cnf"]),
                               ("client", "/CN=coroner/O=coroner", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", *ext, cwd=d)
    return d


@contextmanager
def _tls_server(pki: Path) -> Iterator[tuple[int, list[str]]]:
    """HTTPS that requires a client certificate from the CA and records each client's subject CN."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            seen.append(dict(x[0] for x in peer["subject"])["commonName"])
            self.send_response(200)
            self.send_header("Content-Length", str(len(SUMMARY)))
            self.end_headers()
            self.wfile.write(SUMMARY)

        def log_message(self, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.crt", pki / "server.key")
    context.load_verify_locations(pki / "ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _kubeconfig(path: Path, port: int, pki: Path, *, ca: str = "ca.crt") -> Path:
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
              "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                                     "certificate-authority-data": _b64(pki / ca)}}],
              "users": [{"name": "u", "user": {"client-certificate-data": _b64(pki / "client.crt"),
                                               "client-key-data": _b64(pki / "client.key")}}],
              "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    path.write_text(json.dumps(config))
    return path


def test_fast_path_presents_the_kubeconfigs_client_certificate(pki, tmp_path):
    with _tls_server(pki) as (port, seen):
        config = _kubeconfig(tmp_path / "config", port, pki)
        with KubernetesClusterReader.from_kubeconfig(config) as fast:
            assert fast._proxy is not None
            via_fast = fast.node_fs_summary("n1")
        with KubernetesClusterReader.from_kubeconfig(config) as reader:
            reader._proxy = None  # the generated method
            via_sdk = reader.node_fs_summary("n1")
    assert via_fast == via_sdk and via_fast.nodefs is not None and via_fast.nodefs.used_ratio == 0.9
    assert seen == ["coroner", "coroner"]


def test_fast_path_refuses_a_server_the_kubeconfigs_ca_did_not_sign(pki, tmp_path):
    with _tls_server(pki) as (port, seen):
        config = _kubeconfig(tmp_path / "config", port, pki, ca="other.crt")
        errors = []
        for fast in (True, False):
            with KubernetesClusterReader.from_kubeconfig(config, timeout=5) as reader:
                if not fast:
                    reader._proxy = None
                with pytest.raises(ClusterReadError) as info:
                    reader.node_fs_summary("n1")
                errors.append(str(info.value))
    assert seen == []
    assert all("CERTIFICATE_VERIFY_FAILED" in e for e in errors), errors
    assert errors[0] == errors[1]
