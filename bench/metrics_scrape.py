"""Cost of one `GET /metrics` scrape, over loopback, as the jobs table grows with finished jobs.

    python bench/metrics_scrape.py sqlite:////tmp/metrics-bench.db
    python bench/metrics_scrape.py postgresql+psycopg://postgres@127.0.0.1:5432/coroner_bench   # database must exist

Fills the table with `done` jobs (what months of incidents leave behind) plus a few hundred queued ones,
then scrapes 50 times. The queue gauges are one grouped query on the indexed `status` column, so the
scrape should not grow with the finished jobs. Prints the median and p95 in milliseconds.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette

from bot.metrics import metrics_routes
from bot.server import serving
from bot.store import Store
from bot.store.models import JobRow, table_of

START = datetime(2024, 5, 14, 3, 0, tzinfo=UTC)


def fill(store: Store, *, done: int, queued: int) -> None:
    rows = [
        {"kind": ("diagnose", "postmortem")[i % 2], "dedupe_key": f"bench-{i}", "payload": {},
         "status": "done" if i < done else "queued", "attempts": 1, "max_attempts": 3,
         "created_at": START + timedelta(seconds=i), "updated_at": START + timedelta(seconds=i)}
        for i in range(done + queued)
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.delete(table_of(JobRow)))
        for first in range(0, len(rows), 5000):
            conn.execute(sa.insert(table_of(JobRow)), rows[first:first + 5000])


def scrape_ms(base_url: str, times: int = 50) -> list[float]:
    samples = []
    with httpx.Client() as client:
        for _ in range(times):
            started = time.perf_counter()
            client.get(f"{base_url}/metrics").raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(url: str) -> None:
    store = Store.from_url(url)
    store.upgrade()
    with serving(Starlette(routes=metrics_routes(store, kinds=["diagnose", "postmortem"])), lifespan="off") as base:
        for done in (0, 10_000, 100_000):
            fill(store, done=done, queued=300)
            samples = sorted(scrape_ms(base))
            print(f"{done:>7} done + 300 queued jobs: median {statistics.median(samples):.1f} ms, "
                  f"p95 {samples[int(len(samples) * 0.95)]:.1f} ms")
    store.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:////tmp/metrics-bench.db")
