"""`/diagnose` over Socket Mode: the production bolt app, connected through `apps.connections.open` to a
local WebSocket double that sends envelopes in Slack's shape and records the acks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.slack.app import create_slack_app
from bot.slack.socket_mode import SocketModeError, SocketModeRunner, start_socket_mode
from tests.doubles.slack_socket import APP_TOKEN, running_slack_socket
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # each test opens and closes real WebSocket sessions (seconds of reconnect windows)

StartFn = Callable[..., SocketModeRunner]


@pytest.fixture
def diagnosed() -> list[str]:
    return []


@pytest.fixture
def connect(slack_api, slack_socket, kit, diagnosed) -> Iterator[StartFn]:
    """Build the app the way production does and connect it to the socket double."""
    runners: list[SocketModeRunner] = []

    def start(diagnose: Any = None, *, offer_rollback: bool = False, api_url: str | None = None,
              **options: Any) -> SocketModeRunner:
        def default(service: Any, on_check_done: Any) -> Any:
            diagnosed.append(service.name)
            return kit.story(service.name)

        app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **kit.collaborators(diagnose or default),
                               client=WebClient(token=kit.token, base_url=slack_api.api_url),
                               offer_rollback=offer_rollback)
        runner = start_socket_mode(app, app_token=APP_TOKEN, api_url=api_url or slack_socket.api_url, **options)
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.close()
    assert slack_socket.unexpected == []  # the app sent nothing but acks of envelopes it was sent


def test_diagnose_is_acked_over_the_socket_and_answered_in_the_channel(
    connect, slack_api, slack_socket, diagnosed, kit
) -> None:
    runner = connect()
    assert runner.wait_connected(10)
    envelope_id = slack_socket.send_slash_command("user-profile-service", response_url=slack_api.webhook())

    ack = slack_socket.wait_ack(envelope_id, timeout=3.0)
    assert ack.seconds < 3.0
    assert ack.payload == {"text": "Diagnosing `user-profile-service`…", "response_type": "ephemeral"}

    (answer,) = kit.answers(slack_api)
    assert diagnosed == ["user-profile-service"]
    assert answer["channel"] == "C0INC"
    assert answer["blocks"][0]["text"]["text"] == "Diagnosis: user-profile-service"
    # apps.connections.open went to the Socket Mode API URL with the app token, not to the bot's client.
    assert slack_socket.opens[0]["Authorization"] == f"Bearer {APP_TOKEN}"
    assert slack_api.calls("/api/apps.connections.open") == []


def test_the_ack_does_not_wait_for_the_diagnosis(connect, slack_api, slack_socket, kit) -> None:
    release = threading.Event()

    def slow(service: Any, on_check_done: Any) -> Any:
        assert release.wait(10), "the test never released the diagnosis"
        return kit.story(service.name)

    assert connect(slow).wait_connected(10)
    envelope_id = slack_socket.send_slash_command("user-profile-service", response_url=slack_api.webhook())
    assert slack_socket.wait_ack(envelope_id, timeout=3.0).payload is not None
    assert slack_api.calls("/api/chat.update") == []  # the diagnosis is still blocked
    release.set()
    kit.answers(slack_api)


def test_bad_service_text_gets_the_usage_in_the_ack(connect, slack_api, slack_socket, diagnosed) -> None:
    assert connect().wait_connected(10)
    envelope_id = slack_socket.send_slash_command("<!channel> now", response_url=slack_api.webhook())
    payload = slack_socket.wait_ack(envelope_id).payload
    assert payload is not None and "is not a service name" in payload["text"]
    assert "<!channel>" not in payload["text"]
    time.sleep(0.2)
    assert diagnosed == [] and slack_api.calls("/webhook/") == [] and slack_api.calls("/api/chat.") == []


def test_a_block_action_reaches_the_rollback_listener(connect, slack_api, slack_socket) -> None:
    assert connect(offer_rollback=True).wait_connected(10)
    value = json.dumps({"revision": 7, "namespace": "prod", "name": "user-profile-service", "context": "prod-eu"})
    envelope_id = slack_socket.send_block_action(value, response_url=slack_api.webhook("click"))

    assert slack_socket.wait_ack(envelope_id).payload is None  # a plain ack(), as Slack expects for clicks
    reply = slack_api.wait_for("/webhook/click")[0].body
    assert reply["response_type"] == "ephemeral"
    assert ("`kubectl --context prod-eu rollout undo deployment/user-profile-service -n prod --to-revision=7`"
            in reply["text"])


def test_a_dropped_connection_reconnects_with_a_new_url(connect, slack_api, slack_socket, kit) -> None:
    runner = connect(ping_interval=0.5)
    assert runner.wait_connected(10)
    opens = len(slack_socket.opens)
    slack_socket.outage = True  # Slack cannot hand out a new URL for now
    slack_socket.drop()
    wait_until(lambda: not runner.connected, what="the dropped connection to be noticed")
    wait_until(lambda: len(slack_socket.opens) > opens, what="a new connection to be tried")  # it tried, and was told 503

    slack_socket.outage = False
    slack_socket.wait_connected(hellos=2)
    assert runner.wait_connected(10)
    envelope_id = slack_socket.send_slash_command("user-profile-service", response_url=slack_api.webhook())
    assert slack_socket.wait_ack(envelope_id).payload is not None
    kit.answers(slack_api)


def test_a_disconnect_frame_moves_to_a_new_connection(connect, slack_api, slack_socket) -> None:
    runner = connect()
    assert runner.wait_connected(10)
    opens = len(slack_socket.opens)
    slack_socket.send_disconnect("refresh_requested")
    slack_socket.wait_connected(hellos=2)
    assert len(slack_socket.opens) > opens  # each connection uses a fresh URL (tickets are single-use)
    assert runner.wait_connected(10)
    envelope_id = slack_socket.send_slash_command("user-profile-service", response_url=slack_api.webhook())
    assert slack_socket.wait_ack(envelope_id).payload is not None


def test_slack_down_at_start_does_not_raise_and_connects_when_back(connect, slack_api, kit) -> None:
    with running_slack_socket(listening=False) as socket_double:
        runner = connect(api_url=socket_double.api_url, retry_seconds=0.05, max_retry_seconds=0.2)
        assert not runner.connected
        assert runner.last_error is not None
        assert runner.last_error.startswith(f"apps.connections.open: cannot reach Slack at {socket_double.api_url}")

        socket_double.come_up()
        assert runner.wait_connected(10)
        envelope_id = socket_double.send_slash_command("user-profile-service", response_url=slack_api.webhook())
        assert socket_double.wait_ack(envelope_id).payload is not None
        runner.close()


def test_close_closes_the_socket(connect, slack_socket) -> None:
    runner = connect()
    assert runner.wait_connected(10)
    runner.close()
    assert not runner.connected
    with slack_socket.lock:
        assert slack_socket.lock.wait_for(lambda: slack_socket._current is None, 5)


@pytest.mark.parametrize("token", ["xoxb-1234-secret-bot-token", "secret-garbage", ""])
def test_a_token_that_is_not_an_app_token_is_one_line_without_its_value(
    slack_socket, kit, token
) -> None:
    app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **kit.collaborators(),
                           client=WebClient(token=kit.token, base_url=slack_socket.api_url))
    with pytest.raises(SocketModeError) as error:
        start_socket_mode(app, app_token=token, api_url=slack_socket.api_url)
    message = str(error.value)
    assert message.startswith("CORONER_SLACK_APP_TOKEN is ") and "xapp-" in message
    assert "\n" not in message and (not token or token not in message) and "secret" not in message
    assert slack_socket.opens == []  # refused before anything was sent


def test_a_refused_app_token_is_one_line_without_its_value(slack_socket, kit) -> None:
    app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **kit.collaborators(),
                           client=WebClient(token=kit.token, base_url=slack_socket.api_url))
    with pytest.raises(SocketModeError, match=r"^Slack refused CORONER_SLACK_APP_TOKEN: invalid_auth$"):
        start_socket_mode(app, app_token="xapp-invalid", api_url=slack_socket.api_url)
    assert slack_socket.opens[0]["Authorization"] == "Bearer xapp-invalid"
