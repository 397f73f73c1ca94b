"""A local stand-in for Slack's Web API, so the demo runs `serve`'s real Slack path without a workspace.

It answers the methods the bot calls (`auth.test`, `chat.postMessage`, `chat.update`, ...) in Slack's wire
format, on a loopback port, and keeps the conversation so the demo can print what the on-call would see.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: int = 0


@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    def post(self, body: dict[str, Any]) -> Message:
        with self.lock:
            self._counter += 1
            message = Message(channel=str(body.get("channel")), ts=f"1715655731.{self._counter:06d}",
                              text=str(body.get("text") or ""), blocks=_blocks(body),
                              thread_ts=body.get("thread_ts") or None)
            self.messages.append(message)
            return message

    def update(self, body: dict[str, Any]) -> bool:
        with self.lock:
            for message in self.messages:
                if message.channel == body.get("channel") and message.ts == body.get("ts"):
                    message.text, message.blocks = str(body.get("text") or ""), _blocks(body)
                    message.edits += 1
                    return True
        return False

    def threads(self) -> list[tuple[Message, list[Message]]]:
        with self.lock:
            roots = [m for m in self.messages if m.thread_ts is None]
            return [(root, [m for m in self.messages if m.thread_ts == root.ts]) for root in roots]


def _blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def _handler(conversation: Conversation) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
            method = self.path.rsplit("/", 1)[-1]
            answer: dict[str, Any] = {"ok": True}
            if method == "auth.test":
                answer.update(user_id="U0CORONER", bot_id="B0CORONER", team_id="T0DEMO", user="coroner")
            elif method == "chat.postMessage":
                message = conversation.post(body)
                answer.update(channel=message.channel, ts=message.ts)
            elif method == "chat.update":
                answer = {"ok": True} if conversation.update(body) else {"ok": False, "error": "message_not_found"}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def running_slack_double() -> Iterator[tuple[str, Conversation]]:
    """Yields the Web API base URL (`http://127.0.0.1:PORT/api/`) and the conversation it records."""
    conversation = Conversation()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(conversation))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/", conversation
    finally:
        server.shutdown()
        server.server_close()


def plain_text(message: Message) -> list[str]:
    """A message as a terminal shows it: headers, sections and context lines; buttons in brackets."""
    lines: list[str] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            text = (block.get("text") or {}).get("text", "")
            lines.extend(_unescape(text).splitlines())
        elif kind == "context":
            lines.append(" · ".join(_unescape(e.get("text", "")) for e in block.get("elements", [])))
        elif kind == "actions":
            lines.append(" ".join(f"[{e.get('text', {}).get('text', '?')}]" for e in block.get("elements", [])))
    return lines or [_unescape(message.text)]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
