"""`coroner serve`: the ASGI app under uvicorn; `serving` runs one in a thread (the demo, the tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import click

from bot.settings import load_settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container).")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--upgrade/--no-upgrade", default=True, show_default=True, help="Run `db upgrade` before serving.")
@click.option("--worker/--no-worker", default=True, show_default=True,
              help="Also run the job workers (diagnoses, Slack posts, drafts) in this process.")
@click.option("--socket-mode", is_flag=True,
              help="Receive Slack over Socket Mode (CORONER_SLACK_APP_TOKEN): no public URL needed.")
def serve(host: str, port: int, upgrade: bool, worker: bool, socket_mode: bool) -> None:
    """Serve the PagerDuty webhook (POST /pagerduty/webhook), Slack (/slack/events), /healthz and /readyz."""
    import uvicorn

    from bot.settings import SettingsError
    from bot.slack.health import start_auth_check
    from bot.slack.socket_mode import start_socket_mode
    from bot.store import migrate
    from bot.wiring import build, build_app
    from bot.worker import start_workers

    settings = load_settings()
    if socket_mode and (settings.slack_app_token is None or settings.slack_bot_token is None):
        raise SettingsError("serve --socket-mode needs CORONER_SLACK_APP_TOKEN (xapp-…, scope connections:write) "
                            "and CORONER_SLACK_BOT_TOKEN")
    if upgrade:
        migrate.upgrade(settings.database_url)
    services = build(settings)
    stop = threading.Event()
    if worker:
        start_workers(services.store, lambda name: services.handlers(worker=name), count=settings.workers,
                      stop=stop)
    closers: list[Callable[[], None]] = []
    if settings.slack_bot_token is not None:
        # Slack may be down at start: serve starts anyway, /readyz says degraded until auth.test answers.
        closers.append(start_auth_check(services.slack_app(socket_mode=socket_mode).client,
                                        services.slack_health).close)
    if socket_mode:
        assert settings.slack_app_token is not None
        closers.append(start_socket_mode(services.slack_app(socket_mode=True),
                                         app_token=settings.slack_app_token.get_secret_value(),
                                         api_url=settings.slack_api_url).close)
    try:
        # log_config=None: uvicorn's own lines go through Coroner's handler (JSON with CORONER_LOG_FORMAT=json).
        uvicorn.run(build_app(services), host=host, port=port, log_level=settings.log_level.lower(), log_config=None)
    finally:
        for close in closers:
            close()
        stop.set()


@contextmanager
def serving(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on", start_timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, name="coroner-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout)
