"""`serve`'s app serves /metrics, and the intake and the workers count what they did."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.incidents.simulate import delivery_headers, incident_event_body
from bot.server import serving
from bot.settings import Settings
from bot.wiring import build, build_app
from bot.worker import start_workers


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_webhooks_and_jobs_are_counted_on_serves_metrics(tmp_path) -> None:
    services = build(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", pagerduty_webhook_secrets=["s"]))
    services.store.upgrade()
    stop = threading.Event()
    with serving(build_app(services, pending_sweep_seconds=0.2)) as url:
        before = samples(url)
        body = incident_event_body("incident.annotated-not-an-incident", event_id="m1", incident_id="PM1", title="t",
                                   service="s", occurred_at=datetime(2024, 5, 14, tzinfo=UTC))
        trigger = incident_event_body("incident.triggered", event_id="m2", incident_id="PM2", title="t",
                                      service="s", occurred_at=datetime(2024, 5, 14, tzinfo=UTC))
        for payload in (body, trigger, trigger):
            httpx.post(f"{url}/pagerduty/webhook", content=payload, headers=delivery_headers(payload, secrets=["s"]))
        httpx.post(f"{url}/pagerduty/webhook", content=trigger, headers={"X-PagerDuty-Signature": "v1=00"})
        start_workers(services.store, lambda name: services.handlers(worker=name), count=1, stop=stop,
                      idle_seconds=0.05)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                after = samples(url)
                if any(name == "coroner_job_duration_seconds_count" and dict(labels).get("kind") == "post_to_slack"
                       for (name, labels) in after):
                    break
                time.sleep(0.1)
        finally:
            stop.set()

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    counted = "coroner_webhooks_total"
    assert delta(counted, source="pagerduty", event_type="incident.triggered", outcome="accepted") == 1
    assert delta(counted, source="pagerduty", event_type="incident.triggered", outcome="duplicate") == 1
    assert delta(counted, source="pagerduty", event_type="unverified", outcome="failed") == 1
    assert any(name == "coroner_job_queue_depth" for name, _ in after)
    assert any(name == "coroner_job_duration_seconds_count" and dict(labels)["kind"] == "post_to_slack"
               for name, labels in after)
