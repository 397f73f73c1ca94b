"""`serve`'s app mounts the postmortem web view only with CORONER_WEB_SECRET, as the README says: without
it the route answers 404; with it, a missing or bad signature answers 403."""

from __future__ import annotations

import httpx

from bot.server import serving
from bot.settings import Settings
from bot.wiring import build, build_app


def _get(tmp_path, **settings) -> int:
    services = build(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", **settings))
    services.store.upgrade()
    with serving(build_app(services)) as url:
        return httpx.get(f"{url}/postmortems/pd-NOPE", timeout=10).status_code


def test_without_a_web_secret_the_route_is_not_served(tmp_path) -> None:
    assert _get(tmp_path) == 404


def test_with_a_web_secret_an_unsigned_link_is_refused(tmp_path) -> None:
    assert _get(tmp_path, web_secret="a-web-secret-0123456789abcdef0123") == 403
