"""`/diagnose` through the ASGI route under a real uvicorn: real signed requests in over HTTP, a real
WebClient out to the local Slack double."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_sdk import WebClient
import httpx

from bot.ports import ClusterNotFound
from bot.slack.app import SlackAppError, create_slack_app
from bot.slack.asgi import slack_asgi_app


@pytest.fixture
def diagnosed() -> list[str]:
    return []


@pytest.fixture
def make_client(slack_api, kit, diagnosed, serve_asgi):
    def build(diagnose=None, *, offer_rollback: bool = False) -> httpx.Client:
        def default(service: str) -> Any:
            diagnosed.append(service)
            return kit.story(service)

        app = create_slack_app(
            signing_secret=kit.secret,
            bot_token=kit.token,
            diagnose=diagnose or default,
            client=WebClient(token=kit.token, base_url=slack_api.api_url),
            offer_rollback=offer_rollback,
        )
        return httpx.Client(base_url=serve_asgi(slack_asgi_app(app)), timeout=10)

    return build


def post_command(client: httpx.Client, kit, text: str, response_url: str, **sign_args: Any):
    body = kit.slash(text, response_url=response_url)
    return client.post("/slack/events", content=body, headers=kit.sign(body, **sign_args))


def test_diagnose_acks_then_answers_in_channel(make_client, slack_api, kit, diagnosed) -> None:
    client = make_client()
    response = post_command(client, kit, "user-profile-service", slack_api.webhook())
    assert response.status_code == 200
    assert response.json()["text"] == "Diagnosing `user-profile-service`…"
    answer = slack_api.wait_for("/webhook/")[0].body
    assert diagnosed == ["user-profile-service"]
    assert answer["response_type"] == "in_channel"
    assert answer["text"] == "Diagnosis of user-profile-service: 1 critical, 1 high"
    blocks = answer["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Diagnosis: user-profile-service"}}
    text = json.dumps(blocks)
    assert "imagefs 97% on node-3" in text and "bytes=1.8 GB" in text
    assert "--to-revision=7" in text
    assert "coroner_rollback" not in text  # the rollback button is opt-in


def test_the_app_is_built_without_contacting_slack_and_authorizes_on_first_use(make_client, slack_api, kit) -> None:
    client = make_client()
    assert slack_api.requests == []  # building the app made no call: Slack may be down at start
    post_command(client, kit, "user-profile-service", slack_api.webhook())
    call = slack_api.wait_for("/api/auth.test")[0]
    assert call.headers["Authorization"] == "Bearer xoxb-1234-coroner-test"


def test_bad_signature_is_401(make_client, slack_api, kit, diagnosed) -> None:
    client = make_client()
    body = kit.slash("user-profile-service", response_url=slack_api.webhook())
    headers = kit.sign(body, secret="not-the-secret")
    response = client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}
    time.sleep(0.2)
    assert diagnosed == [] and slack_api.calls("/webhook/") == []


def test_tampered_body_is_401(make_client, slack_api, kit) -> None:
    client = make_client()
    body = kit.slash("user-profile-service", response_url=slack_api.webhook())
    headers = kit.sign(body)
    response = client.post("/slack/events", content=body.replace("user-profile", "admin-profile"), headers=headers)
    assert response.status_code == 401


# A future timestamp gets closer to "now" while the request travels: +305 stays outside the 300 s window
# even when the check runs a few seconds after signing (+301 failed when a second boundary passed).
@pytest.mark.parametrize("skew", [-301, 305, -3600])
def test_timestamp_outside_the_replay_window_is_401(make_client, slack_api, kit, diagnosed, skew) -> None:
    client = make_client()
    response = post_command(client, kit, "user-profile-service", slack_api.webhook(),
                            timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert diagnosed == []


def test_unknown_service_gets_a_clear_reply(make_client, slack_api, kit) -> None:
    def diagnose(service: str) -> Any:
        raise ClusterNotFound(f"no workload named {service!r}; closest: user-profile-service")

    client = make_client(diagnose)
    assert post_command(client, kit, "user-profile-svc", slack_api.webhook()).status_code == 200
    answer = slack_api.wait_for("/webhook/")[0].body
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        "Could not finish diagnosing `user-profile-svc`: no workload named 'user-profile-svc'; "
        "closest: user-profile-service"
    )


def test_internal_error_is_reported_without_internals(make_client, slack_api, kit) -> None:
    def diagnose(service: str) -> Any:
        raise RuntimeError("secret connection string postgres://u:pw@db")

    client = make_client(diagnose)
    post_command(client, kit, "user-profile-service", slack_api.webhook())
    answer = slack_api.wait_for("/webhook/")[0].body
    assert "internal error while diagnosing `user-profile-service` (RuntimeError)" in answer["text"]
    assert "pw@db" not in json.dumps(answer)


@pytest.mark.parametrize("text", ["", "  ", "<!channel> & <@U123>", "two words", "UPPER"])
def test_bad_service_text_gets_usage_and_no_ping(make_client, slack_api, kit, diagnosed, text) -> None:
    client = make_client()
    response = post_command(client, kit, text, slack_api.webhook())
    assert response.status_code == 200
    reply = response.json()["text"]
    assert "<!channel>" not in reply and "<@U123>" not in reply
    if text.strip():
        assert "is not a service name" in reply
    else:
        assert reply.startswith("Usage: `/diagnose SERVICE`")
    if "channel" in text:
        assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in reply
    time.sleep(0.2)
    assert diagnosed == [] and slack_api.calls("/webhook/") == []


def test_untrusted_finding_text_is_escaped(make_client, slack_api, kit) -> None:
    hostile = [{"rule": "registry-errors", "severity": "high", "title": "<!channel> pull failed & <@U123> <https://evil|x>",
                "evidence": {"message": "<!here> 503"}}]
    client = make_client(lambda service: kit.story(service, hostile))
    post_command(client, kit, "user-profile-service", slack_api.webhook())
    text = json.dumps(slack_api.wait_for("/webhook/")[0].body)
    for raw in ("<!channel>", "<@U123>", "<!here>", "<https://evil"):
        assert raw not in text
    assert "&lt;!channel&gt; pull failed &amp; &lt;@U123&gt;" in text


def test_200_findings_respect_block_limits(make_client, slack_api, kit) -> None:
    many = [{"rule": "node-disk-high", "severity": ("critical", "high", "medium")[i % 3],
             "title": f"imagefs {90 + i % 10}% on node-{i}", "evidence": {"node": f"node-{i}", "bytes": 10**9 + i}}
            for i in range(200)]
    client = make_client(lambda service: kit.story(service, many), offer_rollback=True)
    post_command(client, kit, "user-profile-service", slack_api.webhook())
    answer = slack_api.wait_for("/webhook/")[0].body
    blocks = answer["blocks"]
    assert len(blocks) <= 50
    assert len(json.dumps(blocks)) <= 11_000
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    notes = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(n.startswith("… ") and "more findings not shown" in n for n in notes)
    assert blocks[-2]["block_id"] == "rollback_actions"  # the rollback offer survives the cut


def test_rollback_button_is_offered_only_when_opted_in_and_never_executes(make_client, slack_api, kit) -> None:
    client = make_client(offer_rollback=True)
    post_command(client, kit, "user-profile-service", slack_api.webhook("T1/B1/first"))
    blocks = slack_api.wait_for("/webhook/T1/B1/first")[0].body["blocks"]
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


def test_forged_rollback_value_is_refused(make_client, slack_api, kit) -> None:
    client = make_client(offer_rollback=True)
    value = json.dumps({"revision": 7, "namespace": "prod; rm -rf /", "name": "x"})
    body = kit.action(value, response_url=slack_api.webhook("forged"))
    assert client.post("/slack/events", content=body, headers=kit.sign(body)).status_code == 200
    reply = slack_api.wait_for("/webhook/forged")[0].body
    assert reply["text"] == "That rollback button does not name a valid revision."


def test_oversized_body_is_413(make_client, kit) -> None:
    client = make_client()
    body = "text=" + "a" * 1_000_001
    assert client.post("/slack/events", content=body, headers=kit.sign(body)).status_code == 413


def test_ack_does_not_wait_for_the_diagnosis(make_client, slack_api, kit) -> None:
    import threading

    release = threading.Event()

    def slow(service: str) -> Any:
        assert release.wait(10), "the test never released the diagnosis"
        return kit.story(service)

    client = make_client(slow)
    response = post_command(client, kit, "user-profile-service", slack_api.webhook())
    # The ack came back while the diagnosis is still blocked: nothing has been posted yet.
    assert response.status_code == 200 and slack_api.calls("/webhook/") == []
    release.set()
    assert slack_api.wait_for("/webhook/")[0].body["response_type"] == "in_channel"


def test_error_handler_answers_listener_failures(slack_api, kit, serve_asgi) -> None:
    app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, diagnose=kit.story,
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


def test_app_from_settings_uses_the_configured_api_url(slack_api, kit) -> None:
    from bot.settings import Settings
    from bot.slack.app import create_slack_app_from_settings
    from bot.slack.health import SlackHealth, start_auth_check

    settings = Settings(slack_bot_token=kit.token, slack_signing_secret=kit.secret, slack_api_url=slack_api.api_url)
    app = create_slack_app_from_settings(settings, diagnose=kit.story)
    check = start_auth_check(app.client, health := SlackHealth())
    try:
        assert health.wait_until("ok", timeout=10)
    finally:
        check.close()
    assert slack_api.wait_for("/api/auth.test")[0].headers["Authorization"] == f"Bearer {kit.token}"


def test_app_from_settings_names_missing_variables() -> None:
    from bot.settings import Settings
    from bot.slack.app import create_slack_app_from_settings

    with pytest.raises(SlackAppError, match="set CORONER_SLACK_SIGNING_SECRET and CORONER_SLACK_BOT_TOKEN"):
        create_slack_app_from_settings(Settings(), diagnose=lambda s: None)  # type: ignore[arg-type,return-value]
