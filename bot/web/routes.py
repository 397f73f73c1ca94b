"""`GET /postmortems/{incident_id}`: the signed link from Slack, answered with the rendered draft.

The signature is checked before anything is looked up, so without a valid link nobody can even learn
whether an incident exists. Every answer, the refusals included, carries headers that keep the page out
of caches and referrers and forbid it any script.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.web.links import LinkRejected, require_secret, verify_link
from bot.web.page import PostmortemPage, content_security_policy, render_page

log = logging.getLogger(__name__)

PostmortemLoader = Callable[[str], PostmortemPage | None]


def security_headers() -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",  # the signed query string must not leak to another site
        "Content-Security-Policy": content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


def postmortem_routes(
    *, load: PostmortemLoader, secret: str, clock: Callable[[], datetime]
) -> list[Route]:
    """The web view's routes. `load` is blocking store code: it runs in starlette's thread pool."""
    require_secret(secret)

    async def postmortem(request: Request) -> Response:
        incident_id = request.path_params["incident_id"]
        try:
            verify_link(incident_id=incident_id, exp=request.query_params.get("exp"),
                        sig=request.query_params.get("sig"), secret=secret, now=clock())
        except LinkRejected as exc:
            log.info("postmortem link refused", extra={"incident_id": incident_id, "reason": exc.reason.value})
            return PlainTextResponse(f"403 Forbidden: {exc}\n", status_code=403, headers=security_headers())
        page = await run_in_threadpool(load, incident_id)
        if page is None:
            return PlainTextResponse(f"404 Not Found: incident {incident_id} has no postmortem\n", status_code=404,
                                     headers=security_headers())
        # A long draft takes a noticeable time to render: keep it off the event loop too.
        return HTMLResponse(await run_in_threadpool(render_page, page), headers=security_headers())

    return [Route("/postmortems/{incident_id}", postmortem, methods=["GET"], name="postmortem")]
