import json
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks import MAX_BLOCKS, TOTAL_CHARS_BUDGET, PostmortemNotice, error_message, postmortem_message


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    """Within the documented limits, as slack_sdk's own validators check them, and within our margin."""
    assert len(blocks) <= MAX_BLOCKS
    assert len(json.dumps(blocks)) <= TOTAL_CHARS_BUDGET
    for block in blocks:
        Block.parse(block).to_dict()  # raises SlackObjectFormationError past a limit


def test_postmortem_notice() -> None:
    notice = PostmortemNotice("inc-1", "disk <full> & more", 3, "in_review", "f" * 64, service="user-profile-service",
                              url="https://coroner.example/postmortems/inc-1", summary="`COPY . .` 1.8 GB")
    message = postmortem_message(notice)
    assert message.blocks[0]["text"]["text"] == "Postmortem in review: disk <\u200bfull> & more"
    assert "*disk &lt;full&gt; &amp; more*" in message.blocks[1]["text"]["text"]
    assert "version 3" in message.blocks[1]["text"]["text"]
    assert message.blocks[-1]["elements"][0]["url"] == notice.url
    assert_valid(message.blocks)


def test_error_message() -> None:
    message = error_message("Could not finish")
    assert message.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": ":warning: Could not finish"}}]
