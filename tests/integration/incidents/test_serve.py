import os
import socket
import subprocess
import time

import httpx
import pytest

from bot.incidents.simulate import delivery_headers
from tests.cli_process import CORONER

pytestmark = pytest.mark.slow  # starts `coroner serve` as a process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_coroner_serve_upgrades_the_schema_and_serves(tmp_path, pagerduty):
    port = free_port()
    env = {
        **os.environ,
        "CORONER_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "CORONER_PAGERDUTY_WEBHOOK_SECRETS": "whsec-a,whsec-b",
    }
    proc = subprocess.Popen(
        [*CORONER, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "coroner serve did not come up"
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").status_code == 200
        body = pagerduty.body()
        response = httpx.post(
            f"{base}/pagerduty/webhook", content=body, headers=delivery_headers(body, secrets=["whsec-b"])
        )
        assert response.status_code == 202
    finally:
        proc.terminate()
        proc.wait(timeout=10)
