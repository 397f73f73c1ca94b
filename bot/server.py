"""`coroner serve`: the ASGI app under uvicorn."""

from __future__ import annotations

import click

from bot.settings import load_settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container).")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--upgrade/--no-upgrade", default=True, show_default=True, help="Run `db upgrade` before serving.")
def serve(host: str, port: int, upgrade: bool) -> None:
    """Serve the PagerDuty webhook (POST /pagerduty/webhook), /healthz and /readyz."""
    import uvicorn

    from bot.app import app_from_settings
    from bot.store import migrate

    settings = load_settings()
    if upgrade:
        migrate.upgrade(settings.database_url)
    uvicorn.run(app_from_settings(settings), host=host, port=port, log_level=settings.log_level.lower())
