"""`GET /metrics` served by uvicorn on a small Starlette app, scraped over HTTP like Prometheus does,
on SQLite and PostgreSQL. The queue gauges are read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from bot.metrics import JOB_DURATION, WEBHOOKS, metrics_routes
from bot.server import serving
from bot.store import Store
from tests.integration.conftest import FakeClock

FAMILIES = {
    "coroner_webhooks",
    "coroner_job_duration_seconds",
    "coroner_api_calls",
    "coroner_check_duration_seconds",
    "coroner_job_queue_depth",
    "coroner_job_oldest_age_seconds",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store.from_url(database_url, clock=clock)
    yield store
    store.dispose()


def scrape(store: Store, **routes_options) -> dict[str, dict[tuple, float]]:
    """{family: {((label, value), ...) or sample-name suffix: value}} from a real HTTP scrape."""
    with serving(Starlette(routes=metrics_routes(store, **routes_options)), lifespan="off") as base_url:
        response = httpx.get(f"{base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        samples = out.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return out


def enqueue(store: Store, kind: str, key: str) -> None:
    with store.unit_of_work() as uow:
        assert uow.jobs.enqueue(kind=kind, dedupe_key=key, payload={})
        uow.commit()


def test_queue_depth_and_oldest_age_by_kind_count_only_queued_jobs(store, clock):
    enqueue(store, "diagnose", "a")
    clock.advance(seconds=90)
    enqueue(store, "diagnose", "b")
    enqueue(store, "postmortem", "c")
    enqueue(store, "diagnose", "running")
    with store.unit_of_work() as uow:
        claimed = uow.jobs.claim(worker="w1", kinds=["diagnose"])
        uow.commit()
    assert claimed is not None and claimed.dedupe_key == "a"  # the oldest leaves the queue
    clock.advance(seconds=30)
    metrics = scrape(store, kinds=["diagnose", "postmortem", "rollback"])
    assert set(metrics) >= FAMILIES
    assert metrics["coroner_job_queue_depth"] == {
        ("coroner_job_queue_depth", ("kind", "diagnose")): 2,
        ("coroner_job_queue_depth", ("kind", "postmortem")): 1,
        ("coroner_job_queue_depth", ("kind", "rollback")): 0,
    }
    assert metrics["coroner_job_oldest_age_seconds"] == {
        ("coroner_job_oldest_age_seconds", ("kind", "diagnose")): 30,
        ("coroner_job_oldest_age_seconds", ("kind", "postmortem")): 30,
        ("coroner_job_oldest_age_seconds", ("kind", "rollback")): 0,
    }


def test_counters_and_histograms_are_in_the_scrape(store):
    webhook = ("coroner_webhooks_total", ("event_type", "incident.triggered"), ("outcome", "accepted"),
               ("source", "pagerduty"))
    between_2_5_and_5 = [("coroner_job_duration_seconds_bucket", ("kind", "diagnose"), ("le", le), ("outcome", "done"))
                         for le in ("2.5", "5.0")]

    def read() -> tuple[float, float]:
        metrics = scrape(store)
        low, high = (metrics["coroner_job_duration_seconds"].get(key, 0) for key in between_2_5_and_5)
        return metrics["coroner_webhooks"].get(webhook, 0), high - low

    webhooks_before, jobs_before = read()
    WEBHOOKS.labels(source="pagerduty", event_type="incident.triggered", outcome="accepted").inc()
    JOB_DURATION.labels(kind="diagnose", outcome="done").observe(3.0)
    assert read() == (webhooks_before + 1, jobs_before + 1)


def test_an_unreachable_database_drops_only_the_queue_gauges(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        metrics = scrape(store, kinds=["diagnose"])
    finally:
        store.dispose()
    assert FAMILIES - {"coroner_job_queue_depth", "coroner_job_oldest_age_seconds"} <= set(metrics)
    assert "coroner_job_queue_depth" not in metrics


def test_only_get_is_served(store):
    with serving(Starlette(routes=metrics_routes(store)), lifespan="off") as base_url:
        assert httpx.post(f"{base_url}/metrics").status_code == 405
