"""A stdlib HTTP double on a loopback port that can start down: Slack being unreachable at start."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class LoopbackServer:
    url: str  # http://127.0.0.1:<port>, known before the server listens
    come_up: Callable[[], None]  # start accepting connections (once)


@contextlib.contextmanager
def serving_http(handler: type[BaseHTTPRequestHandler], *, listening: bool = True) -> Iterator[LoopbackServer]:
    """With `listening=False` the port is bound but refuses connections until `come_up()`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler, bind_and_activate=False)
    server.server_bind()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def come_up() -> None:
        server.server_activate()
        thread.start()

    if listening:
        come_up()
    try:
        yield LoopbackServer(url=f"http://127.0.0.1:{server.server_address[1]}", come_up=come_up)
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()
