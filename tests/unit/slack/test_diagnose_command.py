import pytest

from bot.slack.diagnose_command import ServiceRef, parse_service, progress_message, usage


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("user-profile-service", ServiceRef(None, "user-profile-service")),
        ("  prod/user-profile-service\n", ServiceRef("prod", "user-profile-service")),
        ("a.b/c.d-1", ServiceRef("a.b", "c.d-1")),
        ("x" * 253, ServiceRef(None, "x" * 253)),
        ("x" * 254, None),
        ("", None),
        (None, None),
        ("two words", None),
        ("UPPER", None),
        ("/name", None),
        ("ns/", None),
        ("a/b/c", None),
        ("-name", None),
        ("name-", None),
        ("<!channel>", None),
        ("prod/<@U123>", None),
    ],
)
def test_parse_service(text, parsed) -> None:
    assert parse_service(text) == parsed


def test_a_service_ref_reads_as_typed() -> None:
    assert str(ServiceRef("prod", "ups")) == "prod/ups" and str(ServiceRef(None, "ups")) == "ups"


def test_progress_message_before_any_check() -> None:
    message = progress_message(ServiceRef("prod", "ups"), [])
    assert message.text == "Diagnosing prod/ups…"
    assert message.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": "Diagnosing `prod/ups`…"}}]


def test_progress_message_lists_finished_checks_and_escapes_their_names() -> None:
    message = progress_message(ServiceRef(None, "ups"), [("nodes", "ok"), ("<!channel>", "forbidden")])
    assert message.text == "Diagnosing ups… nodes ✓, &lt;!channel&gt; ✗ forbidden"
    assert message.blocks[1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "`nodes` ✓ · `&lt;!channel&gt;` ✗ forbidden · …"}]}


def test_usage_shows_the_command_and_escapes_what_was_typed() -> None:
    assert usage(command="/diagnose", text=" ") == (
        "Usage: `/diagnose SERVICE`, for example `/diagnose user-profile-service`.")
    assert usage(command="/diagnose", text="<!here> x").startswith("`&lt;!here&gt; x` is not a service name")
