"""`coroner serve`: the ASGI app under uvicorn; `serving` runs one in a thread (the demo, the tests).

Both build uvicorn's config with `server_config`, so the tests serve HTTPS exactly as `serve --tls-cert`
does (the admission webhook must be HTTPS: the API server calls nothing else).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from bot.ports import CoronerError
from bot.settings import load_settings

if TYPE_CHECKING:
    import uvicorn


class TlsError(CoronerError):
    """--tls-cert/--tls-key cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    @classmethod
    def from_options(cls, cert: Path | None, key: Path | None) -> TlsFiles | None:
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise TlsError("--tls-cert and --tls-key go together")
        files = cls(cert, key)
        files.check()
        return files

    def check(self) -> None:
        """Load the pair once before serving, so a bad file is one line, not uvicorn's traceback."""
        for path in (self.cert, self.key):
            if not path.is_file():
                raise TlsError(f"{path}: no such file")
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(f"{self.cert} / {self.key}: not a PEM certificate and its private key ({exc})") from None


def server_config(app: Any, *, host: str, port: int, tls: TlsFiles | None = None, **options: Any) -> uvicorn.Config:
    import uvicorn

    if tls is not None:
        options.update(ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key))
    return uvicorn.Config(app, host=host, port=port, **options)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container).")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--upgrade/--no-upgrade", default=True, show_default=True, help="Run `db upgrade` before serving.")
@click.option("--worker/--no-worker", default=True, show_default=True,
              help="Also run the job workers (diagnoses, Slack posts, drafts) in this process.")
@click.option("--socket-mode", is_flag=True,
              help="Receive Slack over Socket Mode (CORONER_SLACK_APP_TOKEN): no public URL needed.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path),
              help="Serve HTTPS with this PEM certificate (chain); the admission webhook needs it.")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="The certificate's PEM private key.")
def serve(host: str, port: int, upgrade: bool, worker: bool, socket_mode: bool, tls_cert: Path | None,
          tls_key: Path | None) -> None:
    """Serve the PagerDuty webhook (POST /pagerduty/webhook), Slack (/slack/events), the admission webhook
    (POST /admission/validate), /healthz and /readyz."""
    import uvicorn

    from bot.settings import SettingsError
    from bot.slack.health import start_auth_check
    from bot.slack.socket_mode import start_socket_mode
    from bot.store import migrate
    from bot.wiring import build, build_app
    from bot.worker import start_workers

    settings = load_settings()
    tls = TlsFiles.from_options(tls_cert, tls_key)
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
        uvicorn.Server(server_config(build_app(services), host=host, port=port, tls=tls,
                                     log_level=settings.log_level.lower(), log_config=None)).run()
    finally:
        for close in closers:
            close()
        stop.set()


@contextmanager
def serving(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on", start_timeout: float = 10.0,
            tls: TlsFiles | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread; yields its base URL (https://
    with `tls`)."""
    import uvicorn

    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=0, tls=tls, log_level="warning",
                                          lifespan=lifespan))
    thread = threading.Thread(target=server.run, name="coroner-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout)
