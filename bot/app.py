"""The ASGI app: PagerDuty intake, `/healthz`, `/readyz`. Built by `create_app(...)`, never at import.

Status codes follow PagerDuty's delivery rules (REFERENCE.md §1.3): any 4xx other than 429 is a *drop*
(three in a row disable the subscription for 24 h) while 5xx and 429 are *retried* for up to 48 h. So a
request that is not ours or cannot be read (bad signature, bad JSON) is a 4xx, and a fault of ours
(database down) is a 503, so that PagerDuty keeps the event until we can store it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.http_body import read_capped
from bot.incidents.applier import Applier
from bot.incidents.intake import IntakeWriter
from bot.incidents.pagerduty import SIGNATURE_HEADER, MalformedEvent, delivery_id, parse_envelope, verify_v3
from bot.incidents.service import IncidentService
from bot.metrics import WEBHOOKS
from bot.ports import Clock
from bot.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

# PagerDuty drops webhooks over 256 KB; anything far larger is not PagerDuty.
MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = "30"


def create_app(
    *,
    store: Store,
    webhook_secrets: Sequence[str],
    clock: Clock | None = None,
    pending_sweep_seconds: float | None = 60.0,
    extra_routes: Sequence[BaseRoute] = (),
    incident_service: IncidentService | None = None,
    readiness: Callable[[], dict[str, str]] | None = None,
) -> Starlette:
    """The ASGI app over `store`.

    `webhook_secrets`: every PagerDuty V3 secret currently valid (several while one rotates); with none,
    every webhook is refused with 401. `clock` stamps receipt and processing (default: the store's).
    `pending_sweep_seconds`: how often the applier looks for stored-but-unprocessed events when no
    webhook woke it (events whose processing failed, events stored by another replica).
    `extra_routes` lets other features (Slack, review pages) mount their endpoints on the same app.
    `incident_service` replaces the default `IncidentService(store, clock=clock)`.
    `readiness` adds the state of the other parts to `/readyz` (Slack degraded does not make it 503).
    """
    secrets = tuple(s for s in webhook_secrets if s)
    if not secrets:
        log.warning("no PagerDuty webhook secret configured: every webhook will be refused (401)")
    service = incident_service or IncidentService(store, clock=clock)

    async def pagerduty_webhook(request: Request) -> Response:
        body = await read_capped(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, "body too large")
        if not verify_v3(body, request.headers.get(SIGNATURE_HEADER), secrets):
            log.warning("PagerDuty webhook refused: bad or missing signature", extra={"client": _client(request)})
            _count("unverified", "failed")
            return _error(401, "invalid signature")
        try:
            event = parse_envelope(body)
            delivery_id(request.headers)
        except MalformedEvent as exc:
            log.warning("PagerDuty webhook refused: %s", exc)
            _count("malformed", "failed")
            return _error(400, str(exc))
        _count(event.event_type, "received")
        try:
            recorded = await writer.record(event=event, body=body, headers=dict(request.headers.items()))
        except StoreUnavailable as exc:
            log.error("PagerDuty webhook not stored, asking for a retry: %s", exc)
            _count(event.event_type, "failed")
            return _error(503, "temporarily unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS})
        if recorded.inbound_id is None:
            _count(event.event_type, "duplicate")
            return JSONResponse({"status": "duplicate"}, status_code=202)
        _count(event.event_type, "accepted")
        # Stored: from here on nothing is lost. Applying it (incident, timeline, jobs) is the applier's
        # work, off the request path, so PagerDuty's 5 s and a storm's throughput do not depend on it.
        applier.wake()
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await run_in_threadpool(store.ping)
        except StoreUnavailable as exc:
            log.warning("not ready: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "down", **(readiness() if readiness else {})},
                                status_code=503)
        return JSONResponse({"status": "ready", "database": "ok", **(readiness() if readiness else {})})

    writer = IntakeWriter(store, clock=clock)
    applier = Applier(service, interval=pending_sweep_seconds or 60.0, intake_busy=writer.busy)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Events left pending by a previous run are processed before new traffic, keeping their order.
        await applier.apply_pending()
        # Everything built so far (the SDKs, the engine, the playbooks) lives as long as the process: move it
        # out of the collector's reach, so that full collections stay short and do not stall requests.
        gc.collect()
        gc.freeze()
        tasks = [asyncio.create_task(writer.run()), asyncio.create_task(applier.run())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    routes: list[BaseRoute] = [
        Route("/pagerduty/webhook", pagerduty_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *extra_routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _count(event_type: str, outcome: str) -> None:
    # Event types are PagerDuty's own words (validated, at most 128 characters); the list is open-ended
    # but small, so the label set stays bounded in practice.
    WEBHOOKS.labels(source="pagerduty", event_type=event_type, outcome=outcome).inc()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _client(request: Request) -> Any:
    return request.client.host if request.client else None
