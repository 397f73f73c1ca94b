"""`coroner serve`: the ASGI app under uvicorn."""

from __future__ import annotations

import click

from bot.settings import load_settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container).")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--upgrade/--no-upgrade", default=True, show_default=True, help="Run `db upgrade` before serving.")
@click.option("--worker/--no-worker", default=True, show_default=True,
              help="Also run queued diagnosis jobs (PagerDuty-triggered) in this process.")
def serve(host: str, port: int, upgrade: bool, worker: bool) -> None:
    """Serve the PagerDuty webhook (POST /pagerduty/webhook), Slack (/slack/events), /healthz and /readyz."""
    import threading

    import uvicorn

    from bot.store import migrate
    from bot.wiring import build, build_app
    from bot.worker import DiagnosisWorker

    settings = load_settings()
    if upgrade:
        migrate.upgrade(settings.database_url)
    services = build(settings)
    stop = threading.Event()
    if worker:
        jobs = DiagnosisWorker(services.store, services.diagnose_job)
        threading.Thread(target=jobs.run_forever, args=(stop,), name="coroner-worker", daemon=True).start()
    try:
        uvicorn.run(build_app(services), host=host, port=port, log_level=settings.log_level.lower())
    finally:
        stop.set()
