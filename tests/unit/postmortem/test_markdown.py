import pytest
from markdown_it import MarkdownIt

from bot.postmortem.markdown import Md, code, fenced, first_clause, inline


def test_inline_escapes_structure_and_folds_lines() -> None:
    text = inline("a *b* _c_ [x](http://evil) <script> | # ~d~ `e`\n## injected")
    assert isinstance(text, Md)
    assert "\n" not in text
    html = MarkdownIt("commonmark").render(f"- {text}")
    assert "<em>" not in html and "<a " not in html and "<script>" not in html and "<h2>" not in html
    assert "&lt;script&gt;" in html


def test_code_span_survives_backticks() -> None:
    span = code("echo `id` ``x``")
    html = MarkdownIt("commonmark").render(span)
    assert "<code>echo `id` ``x``</code>" in html


def test_code_span_of_empty_text_is_empty() -> None:
    assert code("  ") == ""


def test_fenced_block_cannot_be_closed_by_its_content() -> None:
    block = fenced("+RUN echo hi\n```\n# heading?\n", "diff")
    tokens = MarkdownIt("commonmark").parse(block + "\n\nafter")
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1
    assert fences[0].info == "diff"
    assert "# heading?" in fences[0].content


@pytest.mark.parametrize(("text", "short"), [
    ("Set resources.limits.memory on analytics/reindex (CronJob); its PriorityClass batch-high lets it outrank the "
     "pods it crowds out; until then, stop or move it. Rolling back other services frees nothing.",
     "Set resources.limits.memory on analytics/reindex (CronJob)"),
    ("Give `a; b. C` room (a; b. C) now. Then more", "Give `a; b. C` room (a; b. C) now"),
    ("Remove the culprit layers from ``Dockerfile`` .", "Remove the culprit layers from ``Dockerfile``"),
    (r"Find what it leaks (\`ps\` in its pods\; threads) and restart it", r"Find what it leaks (\`ps\` in its pods\; threads) and restart it"),
    ("Raise maxReplicas e.g. to 40. then more", "Raise maxReplicas e.g. to 40. then more"),
])
def test_first_clause_stops_at_the_first_semicolon_or_sentence_outside_code_and_parentheses(text, short) -> None:
    assert first_clause(text) == short


def test_first_clause_is_cut_at_a_word_limit_never_inside_code_or_parentheses() -> None:
    long = "Set the limit " + " ".join(f"w{i}" for i in range(30))
    assert first_clause(long, max_words=10) == "Set the limit w0 w1 w2 w3 w4 w5 w6 …"
    spans = "Set `a b c d e f` and (g h i j k) then l m n"
    assert first_clause(spans, max_words=7) == "Set `a b c d e f` …"
    assert first_clause("(a b c d e f g h i j)", max_words=3) == "(a b c d e f g h i j)"  # no place to cut
