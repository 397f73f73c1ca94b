"""Slack down at start: the app is still built, Slack shows as degraded, and recovers when Slack is back."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from slack_sdk import WebClient

from bot.slack.app import create_slack_app
from bot.slack.health import SlackHealth, SlackStatus, start_auth_check
from bot.slack.poster import ChatPostError, SlackChatPoster, SlackUnavailable
from tests.doubles.slack_web import running_slack_web

pytestmark = pytest.mark.slow  # waits out Slack's health-check intervals


def wait_for_status(health: SlackHealth, test: Callable[[SlackStatus], bool], timeout: float = 10.0) -> SlackStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = health.status()
        if test(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"Slack health never matched; last: {status}")
        time.sleep(0.02)


def test_slack_down_at_start_builds_the_app_then_recovers(kit) -> None:
    with running_slack_web(listening=False) as slack:
        client = WebClient(token=kit.token, base_url=slack.api_url, timeout=2)
        create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **kit.collaborators(), client=client)

        health = SlackHealth()
        check = start_auth_check(client, health, retry_seconds=0.05, max_retry_seconds=0.2)
        try:
            down = wait_for_status(health, lambda s: (s.last_error or "").startswith("auth.test: cannot reach"))
            assert down.state == "degraded"
            assert down.last_error is not None and f"cannot reach Slack at {slack.api_url}" in down.last_error
            assert "\n" not in down.last_error and kit.token not in down.last_error

            slack.come_up()
            assert health.wait_until("ok", timeout=10)
        finally:
            check.close()
        up = health.status()
        assert up.since >= down.last_error_at  # type: ignore[operator]
        assert up.last_error == down.last_error  # the last failure stays visible after recovery
        assert slack.wait_for("/api/auth.test")[0].headers["Authorization"] == f"Bearer {kit.token}"


def test_refused_bot_token_leaves_slack_degraded_with_the_error_code(slack_api) -> None:
    health = SlackHealth()
    check = start_auth_check(WebClient(token="xoxb-invalid", base_url=slack_api.api_url), health,
                             retry_seconds=0.05, max_retry_seconds=0.1)
    try:
        status = wait_for_status(health, lambda s: s.last_error == "auth.test: invalid_auth")
        slack_api.wait_for("/api/auth.test", count=3)  # it keeps trying: an admin may reinstall the app
    finally:
        check.close()
    assert status.state == "degraded" and health.status().state == "degraded"


def test_a_failed_post_wakes_the_check_which_sees_slack_back(slack_api, kit) -> None:
    health = SlackHealth()
    check = start_auth_check(WebClient(token=kit.token, base_url=slack_api.api_url), health, retry_seconds=0.05)
    try:
        assert health.wait_until("ok", timeout=10)
        checks_before = len(slack_api.calls("/api/auth.test"))
        down = SlackChatPoster(WebClient(token=kit.token, base_url="http://127.0.0.1:9/api/", timeout=2), health=health)
        with pytest.raises(SlackUnavailable, match="chat.postMessage to C0INC failed: cannot reach Slack"):
            down.post(channel="C0INC", text="hi", blocks=[])
        assert health.status().last_error is not None
        assert health.status().last_error.startswith("chat.postMessage: cannot reach Slack")  # type: ignore[union-attr]
        assert health.wait_until("ok", timeout=10)
    finally:
        check.close()
    assert len(slack_api.calls("/api/auth.test")) > checks_before


def test_posts_set_the_health_only_for_outages(slack_api, kit) -> None:
    health = SlackHealth()
    poster = SlackChatPoster(WebClient(token=kit.token, base_url=slack_api.api_url), health=health)
    poster.post(channel="C0INC", text="hi", blocks=[])
    assert health.ok
    with pytest.raises(ChatPostError, match="channel_not_found") as refused:
        poster.post(channel="", text="hi", blocks=[])
    assert not isinstance(refused.value, SlackUnavailable)
    assert health.ok  # one refused message says nothing about Slack

    revoked = SlackChatPoster(WebClient(token="xoxp-user-token", base_url=slack_api.api_url), health=health)
    with pytest.raises(SlackUnavailable, match="invalid_auth"):
        revoked.post(channel="C0INC", text="hi", blocks=[])
    assert health.status().state == "degraded"
    assert health.status().last_error == "chat.postMessage: invalid_auth"


def test_health_starts_degraded_until_something_answers() -> None:
    health = SlackHealth()
    assert health.status().state == "degraded" and health.status().last_error == "not checked yet"
    assert not health.wait_until("ok", timeout=0.05)
    health.record_ok()
    assert health.ok
    first = health.status().since
    health.record_failure("x")
    health.record_failure("y")
    status = health.status()
    assert status.state == "degraded" and status.last_error == "y" and status.since >= first
