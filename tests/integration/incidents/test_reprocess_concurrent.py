"""Two `coroner db reprocess` at once (an operator and a running replica's sweep, or two operators) share
the pending events instead of both claiming all of them: each event is counted by the one process that
applied it, and neither reports events as still pending because the other held them."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime

import pytest

from bot.incidents.pagerduty import parse_envelope
from bot.incidents.service import IncidentService
from bot.incidents.simulate import incident_event_body
from bot.store import Store
from tests.cli_process import CORONER, cli_env

pytestmark = pytest.mark.slow  # several coroner processes at once on PostgreSQL


def test_two_reprocess_runs_count_each_event_once(postgres_url):
    store = Store.from_url(postgres_url)
    store.upgrade()
    service = IncidentService(store)
    for n in range(60):
        body = incident_event_body("incident.triggered", event_id=f"e{n}", incident_id=f"PRE{n}", title="t",
                                   service=f"s{n % 3}", occurred_at=datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC))
        service.record(event=parse_envelope(body), body=body, headers={})
    store.dispose()
    env = cli_env()
    command = [*CORONER, "db", "reprocess", "--url", postgres_url]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [(run.wait(timeout=120), run.stdout.read()) for run in runs]
    assert all(code == 0 for code, _ in outputs), outputs
    processed = [int(re.search(r"processed (\d+);", out).group(1)) for _, out in outputs]
    assert sum(processed) == 60, outputs
    store = Store.from_url(postgres_url)
    with store.unit_of_work() as uow:
        assert uow.events.pending(limit=100) == []
    store.dispose()
