"""Prometheus metrics, served at `GET /metrics` (`metrics_routes`).

Every metric lives in `REGISTRY`, this module's own registry rather than prometheus_client's global one, so
nothing another library registers leaks into the scrape and tests read exact values. Counters and
histograms are updated where the thing happens (intake, worker, check runner, Slack poster, PagerDuty
client); the queue gauges are computed from the database at scrape time, so every replica reports the
same shared queue and a restart loses nothing. Names and labels are listed in docs/operations.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# The check runner imports this module for CHECK_DURATION: `coroner diagnose` must not pay for
# SQLAlchemy and Starlette, which only the scrape needs.
if TYPE_CHECKING:
    from starlette.routing import Route

    from bot.store import Store

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()

WEBHOOKS = Counter(
    "coroner_webhooks_total",
    "Webhooks by source, event type and outcome (received, accepted, duplicate, failed).",
    ["source", "event_type", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "coroner_job_duration_seconds",
    "Time to run one job, by kind and outcome.",
    ["kind", "outcome"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
API_CALLS = Counter(
    "coroner_api_calls_total",
    "Calls to the Slack and PagerDuty APIs, by API, method and outcome (ok, error, ratelimited).",
    ["api", "method", "outcome"],
    registry=REGISTRY,
)
CHECK_DURATION = Histogram(
    "coroner_check_duration_seconds",
    "Time one diagnosis check took (until its timeout when it has none), by check.",
    ["check"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)


@contextmanager
def api_call(api: str, method: str, *, outcome_of: Callable[[Exception], str] = lambda exc: "error") -> Iterator[None]:
    """Count one call to `api` (slack | pagerduty): `ok` when the block returns, else `outcome_of(exc)`
    (error | ratelimited). The exception goes on unchanged."""
    try:
        yield
    except Exception as exc:
        API_CALLS.labels(api=api, method=method, outcome=outcome_of(exc)).inc()
        raise
    API_CALLS.labels(api=api, method=method, outcome="ok").inc()


def count_pagerduty_call(method: str, outcome: str) -> None:
    """The PagerDuty client's `on_call` hook: one count per HTTP attempt."""
    API_CALLS.labels(api="pagerduty", method=method, outcome=outcome).inc()


class JobQueueCollector(Collector):
    """`coroner_job_queue_depth{kind}` and `coroner_job_oldest_age_seconds{kind}`, read at scrape time.

    `kinds` are reported as 0 when none of theirs is queued, so a dashboard shows an empty queue rather
    than no data. A database that cannot be reached drops these two from the scrape (and says so in the
    log) but leaves the rest: the counters are what tells why it is down."""

    def __init__(self, store: Store, *, kinds: Iterable[str] = ()) -> None:
        self._store = store
        self._kinds = tuple(kinds)

    def collect(self) -> Iterator[Metric]:
        from bot.store import StoreUnavailable
        from bot.store.stats import queued_jobs

        try:
            queued = queued_jobs(self._store)
        except StoreUnavailable as exc:
            log.warning("metrics: job queue not read: %s", exc)
            return
        depth = GaugeMetricFamily("coroner_job_queue_depth", "Jobs waiting for a worker, by kind.", labels=["kind"])
        age = GaugeMetricFamily(
            "coroner_job_oldest_age_seconds", "Seconds the oldest queued job has waited, by kind.", labels=["kind"]
        )
        now = self._store.clock.now()
        for kind in sorted(set(self._kinds) - {q.kind for q in queued}):
            depth.add_metric([kind], 0)
            age.add_metric([kind], 0)
        for q in queued:
            depth.add_metric([q.kind], q.depth)
            age.add_metric([q.kind], max(0.0, (now - q.oldest_created_at).total_seconds()))
        yield depth
        yield age


def register_store_collector(registry: CollectorRegistry, store: Store, *, kinds: Iterable[str] = ()) -> None:
    registry.register(JobQueueCollector(store, kinds=kinds))


def metrics_routes(store: Store, *, kinds: Iterable[str] = ()) -> list[Route]:
    """`GET /metrics` in the Prometheus text format: `REGISTRY`, plus the queue gauges of `store`."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    scrape = CollectorRegistry()
    scrape.register(REGISTRY)  # a registry is a collector too: the process-wide metrics, unchanged
    register_store_collector(scrape, store, kinds=kinds)

    # A plain function: Starlette runs it in its thread pool, so the queue query never blocks the loop.
    def metrics(request: Request) -> Response:
        return Response(generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
