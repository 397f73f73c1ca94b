"""Intake latency: signed PagerDuty deliveries through uvicorn over loopback, on SQLite or PostgreSQL.

    python bench/intake.py sqlite:////tmp/bench.db
    python bench/intake.py postgresql+psycopg://postgres@127.0.0.1:5432/coroner_bench   # database must exist

Each incident gets a trigger, an acknowledge and a resolve; every delivery is then retried once
(duplicates). Prints p50/p95/max per kind of answer. PagerDuty wants an answer within 5 s.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn

from bot.app import create_app
from bot.incidents.simulate import delivery_headers, incident_event_body
from bot.store import Store

SECRET = "bench-secret"


def main(url: str, incidents: int = 100) -> None:
    store = Store.from_url(url)
    store.upgrade()
    app = create_app(store=store, webhook_secrets=[SECRET], pending_sweep_seconds=None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    run = uuid.uuid4().hex[:8]
    start = datetime(2024, 5, 14, 3, 0, tzinfo=UTC)
    timings: dict[str, list[float]] = {"accepted": [], "duplicate": []}
    with httpx.Client(base_url=base) as client:
        deliveries = []
        for n in range(incidents):
            for step, event_type in enumerate(("incident.triggered", "incident.acknowledged", "incident.resolved")):
                body = incident_event_body(
                    event_type,
                    event_id=f"{run}-{n}-{step}",
                    incident_id=f"P{run}{n}",
                    title=f"bench {n}",
                    service="bench",
                    occurred_at=start + timedelta(minutes=step),
                )
                deliveries.append(body)
        for body in deliveries + deliveries:
            t0 = time.perf_counter()
            response = client.post("/pagerduty/webhook", content=body, headers=delivery_headers(body, secrets=[SECRET]))
            timings[response.json()["status"]].append(time.perf_counter() - t0)
    server.should_exit = True
    thread.join()
    for kind, values in timings.items():
        values.sort()
        print(
            f"{kind:9} n={len(values):4}  p50={statistics.median(values) * 1000:6.1f} ms  "
            f"p95={values[int(len(values) * 0.95)] * 1000:6.1f} ms  max={values[-1] * 1000:6.1f} ms"
        )
    store.dispose()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:////tmp/coroner-bench.db")
