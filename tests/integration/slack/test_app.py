"""The Slack app through the ASGI route under a real uvicorn: real signed requests in over HTTP, a real
WebClient out to the local Slack double. `/diagnose` itself is in test_diagnose_command.py."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.slack.app import SlackAppError, create_slack_app
from bot.slack.asgi import slack_asgi_app


def collaborators(slash) -> dict[str, Any]:
    return {"diagnose": slash.story, "record_run": slash.record_run, "incident_thread_for": slash.incident_thread_for}


def answer(slash) -> dict[str, Any]:
    """The /diagnose message in the channel once its run is recorded (the answer is out by then)."""
    slash.wait_runs()
    (message,) = slash.channel_messages()
    return message


def test_the_app_is_built_without_contacting_slack_and_authorizes_on_first_use(slash, slack_api) -> None:
    client = slash.start()
    assert slack_api.requests == []  # building the app made no call: Slack may be down at start
    slash.command(client, "user-profile-service")
    call = slack_api.wait_for("/api/auth.test")[0]
    assert call.headers["Authorization"] == "Bearer xoxb-1234-coroner-test"


def test_bad_signature_is_401(slash, slack_api, kit) -> None:
    client = slash.start()
    body = kit.slash("user-profile-service", response_url=slack_api.webhook())
    headers = kit.sign(body, secret="not-the-secret")
    response = client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}
    time.sleep(0.2)
    assert slash.diagnosed == [] and slack_api.calls("/webhook/") == [] and slack_api.calls("/api/chat.") == []


def test_tampered_body_is_401(slash, slack_api, kit) -> None:
    client = slash.start()
    body = kit.slash("user-profile-service", response_url=slack_api.webhook())
    headers = kit.sign(body)
    response = client.post("/slack/events", content=body.replace("user-profile", "admin-profile"), headers=headers)
    assert response.status_code == 401


# A future timestamp gets closer to "now" while the request travels: +305 stays outside the 300 s window
# even when the check runs a few seconds after signing (+301 failed when a second boundary passed).
@pytest.mark.parametrize("skew", [-301, 305, -3600])
def test_timestamp_outside_the_replay_window_is_401(slash, skew) -> None:
    client = slash.start()
    response = slash.command(client, "user-profile-service", timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    time.sleep(0.2)
    assert slash.diagnosed == []


def test_rollback_button_is_offered_only_when_opted_in_and_never_executes(slash, slack_api, kit) -> None:
    client = slash.start(offer_rollback=True)
    slash.command(client, "user-profile-service")
    blocks = answer(slash)["blocks"]
    actions = next(b for b in blocks if b["type"] == "actions")
    button = actions["elements"][0]
    assert button["text"]["text"] == "Roll back to revision 7"
    assert json.loads(button["value"])["revision"] == 7

    body = kit.action(button["value"], response_url=slack_api.webhook("T1/B1/click"))
    response = client.post("/slack/events", content=body, headers=kit.sign(body))
    assert response.status_code == 200
    reply = slack_api.wait_for("/webhook/T1/B1/click")[0].body
    assert reply["response_type"] == "ephemeral"
    assert "Coroner does not roll back from Slack" in reply["text"]
    assert ("`kubectl --context prod-eu rollout undo deployment/user-profile-service -n prod --to-revision=7`"
            in reply["text"])
    assert not any("patch" in r.path or "rollout" in r.path for r in slack_api.requests)


def test_forged_rollback_value_is_refused(slash, slack_api, kit) -> None:
    client = slash.start(offer_rollback=True)
    value = json.dumps({"revision": 7, "namespace": "prod; rm -rf /", "name": "x"})
    body = kit.action(value, response_url=slack_api.webhook("forged"))
    assert client.post("/slack/events", content=body, headers=kit.sign(body)).status_code == 200
    reply = slack_api.wait_for("/webhook/forged")[0].body
    assert reply["text"] == "That rollback button does not name a valid revision."


def test_oversized_body_is_413(slash, kit) -> None:
    client = slash.start()
    body = "text=" + "a" * 1_000_001
    assert client.post("/slack/events", content=body, headers=kit.sign(body)).status_code == 413


def test_error_handler_answers_listener_failures(slash, slack_api, kit, serve_asgi) -> None:
    app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **collaborators(slash),
                           client=WebClient(token=kit.token, base_url=slack_api.api_url))

    @app.command("/broken")
    def broken(ack: Any) -> None:
        raise RuntimeError("boom")

    client = httpx.Client(base_url=serve_asgi(slack_asgi_app(app)), timeout=10)
    body = kit.slash("x", response_url=slack_api.webhook("broken"), command="/broken")
    client.post("/slack/events", content=body, headers=kit.sign(body))
    reply = slack_api.wait_for("/webhook/broken")[0].body
    assert reply["text"] == (
        "Coroner hit an internal error while handling your request (RuntimeError). The details are in the bot's logs."
    )


def test_app_from_settings_uses_the_configured_api_url(slash, slack_api, kit) -> None:
    from bot.settings import Settings
    from bot.slack.app import create_slack_app_from_settings

    from bot.slack.health import SlackHealth, start_auth_check

    settings = Settings(slack_bot_token=kit.token, slack_signing_secret=kit.secret, slack_api_url=slack_api.api_url)
    app = create_slack_app_from_settings(settings, **collaborators(slash))
    check = start_auth_check(app.client, health := SlackHealth())
    try:
        assert health.wait_until("ok", timeout=10)
    finally:
        check.close()
    assert slack_api.wait_for("/api/auth.test")[0].headers["Authorization"] == f"Bearer {kit.token}"


def test_app_from_settings_names_missing_variables(slash) -> None:
    from bot.settings import Settings
    from bot.slack.app import create_slack_app_from_settings

    with pytest.raises(SlackAppError, match="set CORONER_SLACK_SIGNING_SECRET and CORONER_SLACK_BOT_TOKEN"):
        create_slack_app_from_settings(Settings(), **collaborators(slash))

