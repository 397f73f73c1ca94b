"""Shared fixtures: real services, skipped when absent unless CORONER_REQUIRE_SERVICES=1 makes them fail."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.pagerduty_api import PagerDutyApiDouble

POSTGRES_ADMIN_URL = os.environ.get(
    "CORONER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def services_required() -> bool:
    return os.environ.get("CORONER_REQUIRE_SERVICES") == "1"


def service_unavailable(what: str) -> None:
    """Skip, or fail when the run promised that every service is there."""
    if services_required():
        pytest.fail(f"{what} (CORONER_REQUIRE_SERVICES=1)")
    pytest.skip(what)


@contextlib.contextmanager
def temporary_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards. Names are random so parallel runs don't meet."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"coroner_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        service_unavailable(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def docker_client():
    """A client of a running Docker engine."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        service_unavailable(f"no Docker engine answers: {exc}")
    return client


@pytest.fixture
def pagerduty_api() -> Iterator[PagerDutyApiDouble]:
    """A running local double of PagerDuty's REST API (tests/doubles/pagerduty_api.py)."""
    double = PagerDutyApiDouble().start()
    try:
        yield double
    finally:
        double.stop()


# --- markers follow what a test really starts -------------------------------------------------------
# A test that receives one of these fixtures (directly or through another fixture) needs that service,
# so it carries its marker: `pytest -m "not postgres"` deselects exactly the tests that would start one.
SERVICE_FIXTURES = {
    "postgres_url": "postgres",
    "shared_postgres_url": "postgres",
    "docker_client": "docker",
    "registry_url": "registry",
    "chromium": "chromium",
}
SERVICE_MARKERS = ("postgres", "docker", "registry", "chromium")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        for fixture, marker in SERVICE_FIXTURES.items():
            if fixture in fixtures:
                item.add_marker(marker)
        # Fixtures parametrized over the databases (database_url, fresh_database_url, the Slack lifecycle's
        # bot) fetch PostgreSQL only in their "postgres" case.
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker("postgres")
        # The fast subset (`pytest -m "not slow"`) runs with no service at all: a test that needs one
        # (fixture, parameter or its own mark) is slow too. The full run still runs it.
        if any(item.get_closest_marker(service) for service in SERVICE_MARKERS):
            item.add_marker("slow")


# --- the fast subset starts no Python process ---------------------------------------------------------
# A fresh interpreter costs a second of imports on its own, so a test that starts one (the CLI as a
# process, a gate, pre-commit) is `slow`: `pytest -m "not slow"` stays the in-process subset.
# Native tools (git, patch, hadolint) start in milliseconds and are allowed.
PYTHONS = {sys.executable, str(Path(sys.executable).resolve())}
_pythons_started: list[list[str]] | None = None  # set while a test's setup or call runs


def _runs_python(executable: Any, args: Any) -> bool:
    """The interpreter as the program, or as an argument of a wrapper (`setpriv ... python`)."""
    words = [executable, *(args if isinstance(args, list | tuple) else [args])]
    return any(word is not None and os.fsdecode(word) in PYTHONS for word in words)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and _pythons_started is not None and _runs_python(args[0], args[1]):
        _pythons_started.append([os.fsdecode(a) for a in args[1]] if isinstance(args[1], list | tuple) else [str(args[1])])


sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _no_python_unless_slow(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _no_python_unless_slow(item))


def _no_python_unless_slow(item: pytest.Item) -> Generator[None, None, None]:
    global _pythons_started
    started: list[list[str]] = []
    _pythons_started = started
    try:
        result = yield
    finally:
        _pythons_started = None
    if started and item.get_closest_marker("slow") is None:
        pytest.fail(f"starts a Python process ({' '.join(started[0])[:120]}): mark it @pytest.mark.slow", pytrace=False)
    return result
