"""The production app from Settings: `/diagnose` in Slack diagnoses the simulated cluster for real."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from bot.settings import Settings
from bot.sim.server import running_sim
from bot.wiring import build, build_app

pytestmark = pytest.mark.slow  # builds serve's whole app per test


@pytest.fixture
def sim_kubeconfig(tmp_path):
    with running_sim("registry-meltdown") as sim:
        yield sim.write_kubeconfig(tmp_path / "kubeconfig")


def final_message(slack_api, *, channel: str, timeout: float) -> dict:
    """The /diagnose message of `channel` once the diagnosis has replaced "Diagnosing…"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with slack_api.lock:
            done = [m for (where, _), m in slack_api.messages.items()
                    if where == channel and str(m.get("text", "")).startswith("Diagnosis of")]
        if done:
            return done[0]
        time.sleep(0.05)
    raise AssertionError(f"no diagnosis in {channel}: {slack_api.messages}")


def settings_for(tmp_path, **overrides) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'coroner.db'}", **overrides)


def test_slash_diagnose_runs_the_playbook_against_the_cluster(tmp_path, sim_kubeconfig, slack_api, kit, serve_asgi):
    settings = settings_for(
        tmp_path, kubeconfig=sim_kubeconfig, slack_signing_secret=kit.secret, slack_bot_token=kit.token,
        slack_api_url=slack_api.api_url, image_source="registry",
    )
    services = build(settings)
    services.store.upgrade()
    url = serve_asgi(build_app(services))

    body = kit.slash("user-profile-service", response_url=slack_api.webhook())
    response = httpx.post(f"{url}/slack/events", content=body, headers=kit.sign(body), timeout=10)
    assert response.status_code == 200

    answer = final_message(slack_api, channel="C0INC", timeout=60)
    text = json.dumps(answer["blocks"])
    for rule in ("node-not-ready", "node-disk-high", "registry-errors", "pull-pressure"):
        assert rule in text, rule
    assert "--to-revision=4" in text


def test_without_slack_settings_the_route_is_absent_but_intake_works(tmp_path, serve_asgi):
    services = build(settings_for(tmp_path, pagerduty_webhook_secrets=["s1"]))
    services.store.upgrade()
    url = serve_asgi(build_app(services))
    assert httpx.post(f"{url}/slack/events", content=b"x", timeout=5).status_code == 404
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    bad = httpx.post(f"{url}/pagerduty/webhook", content=b"{}", headers={"X-PagerDuty-Signature": "v1=00"}, timeout=5)
    assert bad.status_code == 401


def test_slack_down_at_start_does_not_stop_serve_and_intake_goes_on(tmp_path, serve_asgi, kit):
    from tests.doubles.slack_web import running_slack_web
    from tests.integration.incidents.conftest import pd_body, pd_headers

    with running_slack_web(listening=False) as slack:
        settings = settings_for(tmp_path, slack_signing_secret=kit.secret, slack_bot_token=kit.token,
                                slack_api_url=slack.api_url, pagerduty_webhook_secrets=["whsec-new"])
        services = build(settings)
        services.store.upgrade()
        url = serve_asgi(build_app(services))  # builds the Slack app while Slack refuses connections

        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        body = pd_body()
        accepted = httpx.post(f"{url}/pagerduty/webhook", content=body, headers=pd_headers(body), timeout=10)
        assert accepted.status_code == 202 and accepted.json() == {"status": "accepted"}
        assert slack.requests == []
