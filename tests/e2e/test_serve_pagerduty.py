"""Production path, end to end: `coroner serve` takes a signed page, its worker diagnoses the cluster."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from datetime import UTC, datetime

import httpx
import pytest

from bot.incidents.simulate import delivery_headers, incident_event_body
from bot.sim.server import running_sim
from tests.cli_process import CORONER
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # starts `coroner serve` as a process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_page_is_diagnosed_by_the_worker_of_coroner_serve(tmp_path):
    db = tmp_path / "coroner.db"
    port = free_port()
    with running_sim("registry-meltdown") as sim:
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
        unset = {name for name in os.environ if name.startswith("CORONER_SLACK_")}  # Slack stays unconfigured
        env = {**{k: v for k, v in os.environ.items() if k not in unset}, "CORONER_DATABASE_URL": f"sqlite:///{db}", "CORONER_KUBECONFIG": str(kubeconfig),
               "CORONER_PAGERDUTY_WEBHOOK_SECRETS": "whsec-e2e", "CORONER_NODE_PROXY_ENABLED": "true"}
        proc = subprocess.Popen([*CORONER, "serve", "--port",
                                 str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            def up() -> bool:
                try:
                    return httpx.get(f"{base}/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, timeout=30, what="coroner serve to come up", proc=proc)
            body = incident_event_body("incident.triggered", event_id="e2e-1", incident_id="QE2E", title="5xx burst",
                                       service="user-profile-service",
                                       occurred_at=datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC))
            answer = httpx.post(f"{base}/pagerduty/webhook", content=body,
                                headers=delivery_headers(body, secrets=["whsec-e2e"]))
            assert answer.status_code == 202

            def diagnosed() -> bool:
                with sqlite3.connect(db) as conn:
                    return conn.execute("select count(*) from jobs where kind = 'diagnose_incident' and status = 'done'").fetchone()[0] == 1

            wait_until(diagnosed, timeout=60, what="the diagnosis job to finish", proc=proc)

            def slack_skipped() -> bool:  # the README's laptop run: no CORONER_SLACK_BOT_TOKEN
                with sqlite3.connect(db) as conn:
                    rows = conn.execute("select status from jobs where kind = 'post_to_slack'").fetchall()
                return len(rows) == 2 and {row[0] for row in rows} == {"done"}  # the page's line, the diagnosis

            wait_until(slack_skipped, timeout=60, what="the Slack posts to be skipped", proc=proc)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        output = proc.stdout.read().decode()
    assert output.count("Slack is not configured (CORONER_SLACK_BOT_TOKEN): nothing posted for pd-QE2E") == 2, output

    with sqlite3.connect(db) as conn:
        rules = {row[0] for row in conn.execute("select rule from findings")}
        timeline = [row[0] for row in conn.execute("select text from timeline_entries order by at")]
    assert {"node-not-ready", "node-disk-high", "registry-errors", "rollback-candidate"} <= rules
    assert any(text.startswith("PagerDuty triggers. 5xx burst") for text in timeline)
    assert any("revision 5 rolled out" in text for text in timeline)
