"""Every route of `serve`'s app that takes a body refuses an oversized one while it streams: an
unauthenticated chunked POST (no Content-Length) is answered 413 after about the cap, never buffered
whole (one 300 MB chunked POST once took the server from 81 MB to 693 MB RSS)."""

from __future__ import annotations

import select
import socket
from urllib.parse import urlsplit

import pytest
from starlette.routing import Route

from bot.server import serving
from bot.settings import Settings
from bot.wiring import build, build_app

CHUNK = b"x" * 65536
GIVE_UP_AFTER = 64 * 1024 * 1024  # far past every cap: a server still reading by then reads it all


def stream_until_answered(url: str, path: str) -> tuple[int, int]:
    """POST an endless chunked body; stop at the first byte of an answer. Returns (status, bytes sent)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sent = 0
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
        while sent < GIVE_UP_AFTER:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        sock.settimeout(10)
        head = sock.recv(64).decode("latin-1")
        return int(head.split()[1]), sent
    finally:
        sock.close()


@pytest.fixture
def app_url(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", pagerduty_webhook_secrets=["s"],
                        slack_signing_secret="x" * 32, slack_bot_token="xoxb-1", slack_api_url="http://127.0.0.1:9/")
    services = build(settings)
    services.store.upgrade()
    app = build_app(services)
    with serving(app) as url:
        yield url, app


def test_every_body_route_refuses_an_endless_chunked_body_early(app_url) -> None:
    url, app = app_url
    posts = [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert {"/pagerduty/webhook", "/slack/events"} <= set(posts)
    for path in posts:
        status, sent = stream_until_answered(url, path)
        assert status == 413, path
        assert sent < 8 * 1024 * 1024, f"{path} read {sent} bytes before refusing"
