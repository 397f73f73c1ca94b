import pytest

from bot.slack.mrkdwn import code, escape, one_line, truncate


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123> & <#C1|x>", "&lt;@U123&gt; &amp; &lt;#C1|x&gt;"),
        ("&amp;", "&amp;amp;"),  # already-escaped text is escaped again: it is data, not markup
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_code_replaces_backticks_and_escapes() -> None:
    assert code("a `b` <!here>") == "`a 'b' &lt;!here&gt;`"
    assert code("") == ""


def test_one_line_folds_newlines() -> None:
    assert one_line("a\n> quote\n• item") == "a &gt; quote • item"


def test_truncate_never_cuts_an_entity() -> None:
    text = escape("aaaa<")  # "aaaa&lt;"
    assert truncate(text, 7) == "aaaa…"
    assert truncate("short", 10) == "short"
    assert len(truncate("x" * 5000, 3000)) == 3000
