"""LiveMessage through SlackChatPoster and a real WebClient against the Slack double."""

from __future__ import annotations

import time

import pytest

from bot.slack.blocks import SlackMessage, section
from bot.slack.live_message import LiveMessage
from bot.slack.poster import ChatPostError, SlackChatPoster, build_web_client


def message(text: str) -> SlackMessage:
    return SlackMessage(text=text, blocks=[section(text)])


@pytest.fixture
def poster(slack_api, kit) -> SlackChatPoster:
    return SlackChatPoster(build_web_client(token=kit.token, base_url=slack_api.api_url))


def edits(slack_api) -> list[str]:
    return [r.body["text"] for r in slack_api.calls("/api/chat.update")]


@pytest.mark.slow  # waits a whole edit interval
def test_progress_within_one_interval_is_one_edit_with_the_newest_then_finish_replaces_it(poster, slack_api) -> None:
    live = LiveMessage.post(poster, channel="C0INC", message=message("Diagnosing…"), interval=2.0)
    for text in ("nodes ✓", "nodes ✓ disk ✓", "nodes ✓ disk ✓ hpa ✓"):
        live.show(message(text))
    slack_api.wait_for("/api/chat.update")
    live.finish(message("the answer"))
    assert edits(slack_api) == ["nodes ✓ disk ✓ hpa ✓", "the answer"]
    assert slack_api.messages[("C0INC", live.ts)]["text"] == "the answer"


def test_finish_drops_progress_still_waiting_for_its_turn(poster, slack_api) -> None:
    live = LiveMessage.post(poster, channel="C0INC", message=message("Diagnosing…"), interval=60.0)
    live.show(message("nodes ✓"))
    live.finish(message("the answer"))
    live.show(message("late progress"))  # after the answer: ignored
    time.sleep(0.2)
    assert edits(slack_api) == ["the answer"]


def test_a_failed_edit_does_not_raise_but_finish_does(poster, slack_api) -> None:
    live = LiveMessage.post(poster, channel="C0INC", message=message("Diagnosing…"), interval=0.0)
    with slack_api.lock:
        slack_api.messages.clear()  # deleted by someone in the channel
    live.show(message("nodes ✓"))
    slack_api.wait_for("/api/chat.update")
    with pytest.raises(ChatPostError, match="message_not_found"):
        live.finish(message("the answer"))


def test_posting_where_the_bot_is_not_a_member_raises_for_the_caller_to_fall_back(poster, slack_api) -> None:
    slack_api.channels_without_bot.add("C0PRIVATE")
    with pytest.raises(ChatPostError, match="not_in_channel"):
        LiveMessage.post(poster, channel="C0PRIVATE", message=message("Diagnosing…"))
