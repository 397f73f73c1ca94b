"""The web view's route over real HTTP: uvicorn serves it, httpx asks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from bot.server import serving
from bot.web.links import WebSecretError, sign_link
from bot.web.page import PostmortemPage, ReviewEvent, content_security_policy
from bot.web.routes import postmortem_routes
from tests.integration.conftest import FakeClock

SECRET = "route-test-secret-0123456789abcdef"
START = datetime(2024, 5, 14, 6, 0, tzinfo=UTC)

PAGE = PostmortemPage(
    incident_id="pd-QA0449E",
    title="user-profile-service: readiness failing",
    service="user-profile-service",
    version=3,
    status="approved",
    markdown="# Postmortem\n\n## Dockerfile fix\n\n```diff\n-COPY . .\n+COPY --link . .\n```\n",
    history=(ReviewEvent(START, "alice", "approved", 3, None),),
    generated_at=START,
)


class Loads:
    """The `load` port backed by a dict; remembers which ids it was asked for and on which thread."""

    def __init__(self, pages: dict[str, PostmortemPage]) -> None:
        self.pages = pages
        self.asked: list[str] = []
        self.threads: set[str] = set()

    def __call__(self, incident_id: str) -> PostmortemPage | None:
        self.asked.append(incident_id)
        self.threads.add(threading.current_thread().name)
        return self.pages.get(incident_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def loads() -> Loads:
    return Loads({PAGE.incident_id: PAGE})


@pytest.fixture
def http(clock: FakeClock, loads: Loads) -> Iterator[httpx.Client]:
    app = Starlette(routes=postmortem_routes(load=loads, secret=SECRET, clock=clock.now))
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def link(incident_id: str = PAGE.incident_id, *, ttl: timedelta = timedelta(days=7), secret: str = SECRET) -> str:
    url = sign_link(base_url="https://coroner.example.com", incident_id=incident_id, secret=secret,
                    expires_at=START + ttl)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"  # the proxy in front forwards path and query


def assert_locked_down(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == content_security_policy()
    assert "script-src" not in response.headers["content-security-policy"]
    assert SECRET not in response.text


def test_signed_link_serves_the_page(http: httpx.Client, loads: Loads) -> None:
    response = http.get(link())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "user-profile-service: readiness failing" in response.text
    assert '<span class="line add">+COPY --link . .</span>' in response.text
    assert_locked_down(response)
    assert loads.asked == ["pd-QA0449E"]
    assert "coroner-http" not in loads.threads  # the blocking load ran off the event loop


@pytest.mark.parametrize(("tamper", "text"), [
    (lambda u: u.split("?")[0], "no signature"),
    (lambda u: u.replace("pd-QA0449E", "pd-QB1111X"), "not valid"),
    (lambda u: u.replace("exp=", "exp=9"), "not valid"),
    (lambda u: u[:-1] + ("0" if u[-1] != "0" else "1"), "not valid"),
    (lambda u: u.replace("sig=", "sig=zz"), "damaged"),
])
def test_a_bad_link_is_403_before_any_lookup(http: httpx.Client, loads: Loads, tamper, text: str) -> None:
    response = http.get(tamper(link()))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("403 Forbidden: ") and text in response.text
    assert response.text.count("\n") == 1
    assert_locked_down(response)
    assert loads.asked == []


def test_a_link_signed_with_another_secret_is_403(http: httpx.Client, loads: Loads) -> None:
    response = http.get(link(secret="some-other-deployment-secret-000000"))
    assert response.status_code == 403 and "not valid" in response.text
    assert loads.asked == []


def test_link_expires_on_the_servers_clock(http: httpx.Client, clock: FakeClock) -> None:
    url = link(ttl=timedelta(hours=1))
    clock.advance(minutes=59)
    assert http.get(url).status_code == 200
    clock.advance(minutes=1)
    response = http.get(url)
    assert response.status_code == 403 and "expired" in response.text
    assert_locked_down(response)


def test_unknown_incident_is_404_only_with_a_valid_signature(http: httpx.Client, loads: Loads) -> None:
    response = http.get(link("pd-NOPE"))
    assert response.status_code == 404
    assert "pd-NOPE has no postmortem" in response.text
    assert_locked_down(response)
    assert loads.asked == ["pd-NOPE"]


def test_only_get(http: httpx.Client) -> None:
    assert http.post(link()).status_code == 405


def test_an_empty_secret_cannot_serve(clock: FakeClock, loads: Loads) -> None:
    with pytest.raises(WebSecretError, match="CORONER_WEB_SECRET"):
        postmortem_routes(load=loads, secret="", clock=clock.now)
