"""Mount the bolt app on Starlette at `POST /slack/events`.

bolt's own Starlette adapter calls the blocking `App.dispatch` inside `async def`, which stalls the
event loop for every request (REFERENCE.md §2.2). Here `dispatch` runs in a worker thread; it returns
as soon as the listener acks, and lazy listeners continue on bolt's executor.

Those threads are counted by a limiter of the Slack route's own, not anyio's default one (40 threads)
that `run_in_threadpool` shares with every other route: a burst of slow PagerDuty deliveries or
database calls cannot hold the threads that Slack's acks need within 3 s.
"""

from __future__ import annotations

import anyio
from anyio import to_thread
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.http_body import read_capped

SLACK_EVENTS_PATH = "/slack/events"
# Slack's payloads are a few KB; refuse anything far larger before it is buffered for HMAC checks.
MAX_BODY_BYTES = 1_000_000
# A dispatch holds its thread until the ack (milliseconds; bolt gives up at 3 s).
DISPATCH_THREADS = 40


def slack_routes(
    app: App,
    *,
    path: str = SLACK_EVENTS_PATH,
    max_body_bytes: int = MAX_BODY_BYTES,
    dispatch_threads: int = DISPATCH_THREADS,
) -> list[Route]:
    limiter = anyio.CapacityLimiter(dispatch_threads)

    async def events(request: Request) -> Response:
        body = await read_capped(request, max_body_bytes)
        if body is None:
            return JSONResponse({"error": "request too large"}, status_code=413)
        bolt_response = await to_thread.run_sync(app.dispatch, to_bolt_request(request, body), limiter=limiter)
        return to_starlette_response(bolt_response)

    return [Route(path, events, methods=["POST"])]


def slack_asgi_app(app: App, *, path: str = SLACK_EVENTS_PATH) -> Starlette:
    """A standalone ASGI app with only the Slack route (the main app mounts `slack_routes` instead)."""
    return Starlette(routes=slack_routes(app, path=path))
