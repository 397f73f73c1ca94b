from markdown_it import MarkdownIt

from bot.postmortem.markdown import Md, code, fenced, inline


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
