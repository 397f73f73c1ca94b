"""An HTTP server in front of another (the sim's API server) that passes every request through, except
the ones whose path matches `stall`: those are accepted and never answered, as an API server whose one
list hangs on a slow etcd while the rest answer."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import httpx

from tests.doubles.loopback import serving_http

# What the kubernetes client reads from an answer; hop-by-hop headers are the proxy's own business.
_PASSED_HEADERS = ("Content-Type", "Date", "Audit-Id", "Warning")


@dataclass
class StallingProxy:
    url: str
    stalled: list[str] = field(default_factory=list)  # the paths held, in the order they came


@contextlib.contextmanager
def stalling_proxy(upstream: str, *, stall: str) -> Iterator[StallingProxy]:
    """`stall` is a regular expression searched in each request's path (with its query)."""
    pattern = re.compile(stall)
    released = threading.Event()
    client = httpx.Client(base_url=upstream, timeout=30)
    held: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # http.server's naming
            if pattern.search(self.path):
                held.append(self.path)
                released.wait()
                return
            answer = client.get(self.path, headers={"Authorization": self.headers.get("Authorization", ""),
                                                    "Accept": self.headers.get("Accept", "*/*")})
            self.send_response(answer.status_code)
            for name in _PASSED_HEADERS:
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

    try:
        with serving_http(Handler) as server:
            yield StallingProxy(url=server.url, stalled=held)
            released.set()  # before the server's shutdown, so that no handler is left waiting
    finally:
        released.set()
        client.close()
