"""Intake fixtures: the real app over a real database (SQLite and PostgreSQL), driven by real HTTP
requests whose bodies are signed the way PagerDuty signs them."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from bot.app import create_app
from bot.incidents.pagerduty import sign_v3
from bot.server import serving
from bot.store import Store
from tests.integration.conftest import FakeClock

OLD_SECRET = "whsec-old"
NEW_SECRET = "whsec-new"


_counter = itertools.count()


def pd_body(
    event_type: str = "incident.triggered",
    *,
    event_id: str | None = None,
    incident_id: str = "PGR0VU2",
    occurred_at: str = "2024-05-14T03:02:11Z",
    data: dict[str, Any] | None = None,
    agent: dict[str, Any] | None = None,
) -> bytes:
    """A V3 body shaped like PagerDuty's (REFERENCE.md §1.1)."""
    status = {"incident.resolved": "resolved", "incident.acknowledged": "acknowledged"}.get(event_type, "triggered")
    incident = {
        "id": incident_id,
        "type": "incident",
        "number": 1234,
        "title": "user-profile-service: readiness probes failing",
        "status": status,
        "urgency": "high",
        "incident_key": "ups-readiness",
        "created_at": "2024-05-14T03:02:11Z",
        "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
        "self": f"https://api.pagerduty.com/incidents/{incident_id}",
        "service": {"id": "PF9KMXH", "summary": "user-profile-service", "type": "service_reference"},
        "assignees": [],
        "escalation_policy": {"id": "P1", "type": "escalation_policy_reference"},
        "teams": [],
        "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
        "conference_bridge": None,
        "resolve_reason": None,
    }
    event = {
        "id": event_id or f"evt-{next(_counter)}-{uuid.uuid4().hex[:8]}",
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": occurred_at,
        "agent": agent,
        "client": None,
        "data": incident if data is None else data,
    }
    # Compact separators, like PagerDuty's own bodies; the exact bytes are what gets signed.
    return json.dumps({"event": event}, separators=(",", ":")).encode()


def pd_headers(body: bytes, *, secret: str = NEW_SECRET, webhook_id: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-Webhook-Id": webhook_id or uuid.uuid4().hex,
        "X-Webhook-Subscription": "PSUB123",
        "X-PagerDuty-Signature": sign_v3(body, secret),
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 14, 3, 2, 30, tzinfo=UTC))


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store.from_url(database_url, clock=clock)
    yield store
    store.dispose()


def wait_applied(store: Store, *, timeout: float = 15.0) -> None:
    """The intake answers 202 once the raw event is stored and applies it in the background: wait until
    every stored event was applied or tried (a failed one keeps its error and stays pending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with store.unit_of_work() as uow:
            if all(event.attempts for event in uow.events.pending(limit=1000)):
                return
        time.sleep(0.02)
    raise AssertionError("stored events were not applied in time")


class SettlingClient(httpx.Client):
    """A client of the intake whose accepted POSTs return once the applier has applied them, so a test
    reads the incident state the way a person would a moment later."""

    store: Store | None = None

    def post(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().post(url, **kwargs)
        if self.store is not None and response.status_code == 202 and response.json().get("status") == "accepted":
            wait_applied(self.store)
        return response


@pytest.fixture
def serve_app() -> Iterator[Callable[..., httpx.Client]]:
    """Serve an app under uvicorn and return an HTTP client of it; both stop at teardown. With `store`,
    accepted webhooks return once applied (`SettlingClient`)."""
    with contextlib.ExitStack() as stack:

        def serve(app: ASGIApp, store: Store | None = None) -> httpx.Client:
            base_url = stack.enter_context(serving(app))
            client = stack.enter_context(SettlingClient(base_url=base_url, timeout=30))
            client.store = store
            return client

        yield serve


@pytest.fixture
def make_client(serve_app, clock: FakeClock) -> Callable[[Store], httpx.Client]:
    """An HTTP client of the real app over `store` (its startup sweep included)."""

    def make(store: Store) -> httpx.Client:
        app = create_app(store=store, webhook_secrets=[OLD_SECRET, NEW_SECRET], clock=clock, pending_sweep_seconds=None)
        return serve_app(app, store)

    return make


@pytest.fixture
def client(make_client, store) -> httpx.Client:
    return make_client(store)


def post(client: httpx.Client, body: bytes, **header_args: Any) -> httpx.Response:
    return client.post("/pagerduty/webhook", content=body, headers=pd_headers(body, **header_args))


class PagerDutyDouble:
    """Builds and sends deliveries the way PagerDuty does (tests use it through the `pagerduty` fixture)."""

    old_secret = OLD_SECRET
    new_secret = NEW_SECRET
    body = staticmethod(pd_body)
    headers = staticmethod(pd_headers)
    post = staticmethod(post)


@pytest.fixture
def pagerduty() -> PagerDutyDouble:
    return PagerDutyDouble()
