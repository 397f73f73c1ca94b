"""SlackChatPoster against the local Web API double with a real WebClient."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from bot.slack.blocks import PostmortemNotice, postmortem_message
from bot.slack.poster import ChatPostError, SlackChatPoster, build_web_client


def test_post_returns_ts_and_sends_blocks_and_thread(slack_api, kit) -> None:
    poster = SlackChatPoster(build_web_client(token=kit.token, base_url=slack_api.api_url))
    message = postmortem_message(PostmortemNotice("inc-1", "<!channel> disk full", 2, "in_review", "ab" * 32))
    ts = poster.post(channel="C0INC", text=message.text, blocks=message.blocks, thread_ts="1715655731.000001")
    call = slack_api.wait_for("/api/chat.postMessage")[0]
    assert ts == "1715655731.000101"
    assert call.headers["Authorization"] == f"Bearer {kit.token}"
    assert call.body["channel"] == "C0INC" and call.body["thread_ts"] == "1715655731.000001"
    blocks = call.body["blocks"] if isinstance(call.body["blocks"], list) else json.loads(call.body["blocks"])
    assert blocks == message.blocks
    # Slack parses mentions in the fallback text and in mrkdwn objects; plain_text headers are not parsed.
    mrkdwn = [call.body["text"]] + [b["text"]["text"] for b in blocks if b["text"]["type"] == "mrkdwn"]
    assert all("<!channel>" not in t for t in mrkdwn)
    assert "<!channel>" not in json.loads(json.dumps(blocks[0]))["text"]["text"]
    assert "&lt;!channel&gt; disk full" in mrkdwn[0]


def test_a_rate_limit_is_a_retryable_error_carrying_retry_after(slack_api, kit) -> None:
    """Posts run in jobs: a 429 goes back to the queue with Slack's Retry-After instead of sleeping here."""
    slack_api.retry_after = "17"
    slack_api.rate_limit_next(1)
    poster = SlackChatPoster(WebClient(token=kit.token, base_url=slack_api.api_url))
    with pytest.raises(ChatPostError, match="chat.postMessage to C0INC failed: ratelimited") as raised:
        poster.post(channel="C0INC", text="hi", blocks=[])
    assert raised.value.retryable and raised.value.retry_after == 17.0
    assert len(slack_api.calls("/api/chat.postMessage")) == 1
    assert poster.post(channel="C0INC", text="hi", blocks=[])  # the retry goes through


def test_slack_down_is_retryable_and_a_missing_channel_is_not(slack_api, kit) -> None:
    poster = SlackChatPoster(WebClient(token=kit.token, base_url=slack_api.api_url))
    slack_api.down = True
    with pytest.raises(ChatPostError) as down:
        poster.post(channel="C0INC", text="hi", blocks=[])
    assert down.value.retryable
    slack_api.down = False
    with pytest.raises(ChatPostError, match="channel_not_found") as missing:
        poster.post(channel="", text="hi", blocks=[])
    assert not missing.value.retryable


def test_invalid_token_is_a_clear_error(slack_api) -> None:
    poster = SlackChatPoster(WebClient(token="xoxp-user-token", base_url=slack_api.api_url))
    with pytest.raises(ChatPostError, match="failed: invalid_auth"):
        poster.post(channel="C0INC", text="hi", blocks=[])


def test_slack_refusal_is_a_clear_error(slack_api, kit) -> None:
    poster = SlackChatPoster(WebClient(token=kit.token, base_url=slack_api.api_url))
    with pytest.raises(ChatPostError, match="failed: channel_not_found"):
        poster.post(channel="", text="hi", blocks=[])


def test_unreachable_slack_is_a_clear_error(kit) -> None:
    poster = SlackChatPoster(WebClient(token=kit.token, base_url="http://127.0.0.1:9/api/", timeout=2))
    with pytest.raises(ChatPostError, match="chat.postMessage to C0INC failed"):
        poster.post(channel="C0INC", text="hi", blocks=[])


def calls(outcome: str) -> float:
    from bot.metrics import REGISTRY

    labels = {"api": "slack", "method": "chat.postMessage", "outcome": outcome}
    return REGISTRY.get_sample_value("coroner_api_calls_total", labels) or 0.0


def test_each_post_is_counted_by_outcome(slack_api, kit) -> None:
    before = {outcome: calls(outcome) for outcome in ("ok", "error", "ratelimited")}
    SlackChatPoster(WebClient(token=kit.token, base_url=slack_api.api_url)).post(channel="C0INC", text="hi", blocks=[])
    with pytest.raises(ChatPostError):
        SlackChatPoster(WebClient(token="xoxp-user-token", base_url=slack_api.api_url)).post(
            channel="C0INC", text="hi", blocks=[]
        )
    with pytest.raises(ChatPostError):
        SlackChatPoster(WebClient(token="xoxb-ratelimited", base_url=slack_api.api_url)).post(
            channel="C0INC", text="hi", blocks=[]
        )
    with pytest.raises(ChatPostError):
        SlackChatPoster(WebClient(token=kit.token, base_url="http://127.0.0.1:9/api/", timeout=2)).post(
            channel="C0INC", text="hi", blocks=[]
        )
    after = {outcome: calls(outcome) for outcome in before}
    assert {outcome: after[outcome] - before[outcome] for outcome in before} == {"ok": 1, "error": 2, "ratelimited": 1}


def test_update_edits_a_posted_message_and_names_slacks_refusal(slack_api, kit) -> None:
    poster = SlackChatPoster(build_web_client(token=kit.token, base_url=slack_api.api_url))
    ts = poster.post(channel="C0INC", text="before", blocks=[])
    poster.update(channel="C0INC", ts=ts, text="after", blocks=[])
    assert slack_api.messages[("C0INC", ts)]["text"] == "after"
    with pytest.raises(ChatPostError, match=r"^chat.update to C0INC failed: message_not_found") as refused:
        poster.update(channel="C0INC", ts="1.2", text="x", blocks=[])
    assert refused.value.retryable is False


def test_post_where_the_bot_is_not_a_member_is_not_in_channel(slack_api, kit) -> None:
    slack_api.channels_without_bot.add("C0PRIVATE")
    poster = SlackChatPoster(build_web_client(token=kit.token, base_url=slack_api.api_url))
    with pytest.raises(ChatPostError, match="^chat.postMessage to C0PRIVATE failed: not_in_channel") as refused:
        poster.post(channel="C0PRIVATE", text="x", blocks=[])
    assert refused.value.retryable is False
