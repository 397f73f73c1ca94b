import dataclasses
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from bot.web.page import PostmortemPage, ReviewEvent, content_security_policy, highlight_diff, render_page

DIFF = """--- a/Dockerfile
+++ b/Dockerfile
@@ -1,4 +1,5 @@
 FROM python:3.11-slim
-COPY . .
+COPY --link . .
+USER 10001:10001
\\ No newline at end of file
"""

DRAFT = f"""# Postmortem: user-profile-service: readiness failing

| Field | Value | Size |
|---|---|--:|
| Service | `user-profile-service` | 4.2 GB |

## Summary

The image was **4.2 GB**, 19.5× the previous one.

## Dockerfile fix

````diff
{DIFF}````

```sh
kubectl rollout undo deployment/user-profile-service -n prod --to-revision=7
```

## Summary
"""


def at(hh: int, mm: int) -> datetime:
    return datetime(2024, 5, 14, hh, mm, tzinfo=UTC)


@pytest.fixture
def page() -> PostmortemPage:
    return PostmortemPage(
        incident_id="pd-QA0449E",
        title="user-profile-service: readiness failing",
        service="user-profile-service",
        version=2,
        status="in_review",
        markdown=DRAFT,
        history=(
            ReviewEvent(at(7, 5), "alice", "in_review", 2),
            ReviewEvent(at(6, 0), "alice", "in_review", 1),
            ReviewEvent(at(6, 20), "bob", "changes_requested", 1, "The timeline misses the 02:41 rollout."),
        ),
        generated_at=at(7, 0),
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside elements of interest, by id and class."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def spans(html: str, css: str) -> list[str]:
    return re.findall(rf'<span class="line {css}">(.*?)</span>', html)


def test_page_is_a_complete_document_with_title_state_and_version(page):
    html = render_page(page)
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "<title>user-profile-service: readiness failing · Postmortem v2 · In review</title>" in html
    assert re.search(r'<span id="pm-state" class="badge state-in-review">In review</span>', html)
    assert "Version 2" in html and "drafted 2024-05-14 07:00:00 UTC" in html


def test_page_needs_nothing_from_the_network(page):
    tags = parse(render_page(page)).tags
    assert not [t for t, _ in tags if t in ("script", "link", "img", "iframe", "object", "embed", "form")]
    assert not [a for _, a in tags if "src" in a or any(k.startswith("on") for k in a)]


def test_the_drafts_own_title_heading_is_not_repeated(page):
    html = render_page(page)
    assert "<h1" in html and html.count("<h1") == 1
    assert html.count("readiness failing</h1>") == 1


@pytest.mark.parametrize(("status", "css", "label"), [
    ("draft", "draft", "Draft"),
    ("in_review", "in-review", "In review"),
    ("approved", "approved", "Approved"),
    ("changes_requested", "changes-requested", "Changes requested"),
    ("archived", "other", "Archived"),  # a state this page does not know yet still shows
])
def test_each_state_has_its_badge(page, status, css, label):
    html = render_page(dataclasses.replace(page, status=status))
    assert f'<span id="pm-state" class="badge state-{css}">{label}</span>' in html


def test_history_is_listed_oldest_first_with_versions_and_comments(page):
    html = render_page(page)
    history = html.split('id="pm-history"', 1)[1].split("</section>", 1)[0]
    heads = re.findall(r"<strong>(.*?)</strong> <span class=\"tag( current)?\">v(\d)</span>", history)
    assert heads == [("Submitted for review", "", "1"), ("Requested changes", "", "1"),
                     ("Submitted for review", " current", "2")]
    assert re.findall(r"<p class=\"event-meta\">(.*?)</p>", history) == [
        "alice · 2024-05-14 06:00:00 UTC", "bob · 2024-05-14 06:20:00 UTC", "alice · 2024-05-14 07:05:00 UTC"]
    assert '<blockquote class="comment">The timeline misses the 02:41 rollout.</blockquote>' in history


def test_no_history_says_so(page):
    html = render_page(dataclasses.replace(page, history=()))
    assert "No review yet." in html and "<ol class=\"history\">" not in html


def test_diff_lines_are_classed_added_removed_hunk_and_file():
    html = str(highlight_diff(DIFF))
    assert spans(html, "add") == ["+COPY --link . .", "+USER 10001:10001"]
    assert spans(html, "del") == ["-COPY . ."]
    assert spans(html, "hunk") == ["@@ -1,4 +1,5 @@"]
    assert spans(html, "file") == ["--- a/Dockerfile", "+++ b/Dockerfile"]
    assert spans(html, "ctx") == [" FROM python:3.11-slim"]
    assert spans(html, "note") == ["\\ No newline at end of file"]


def test_a_diff_fence_in_the_draft_is_highlighted_and_other_fences_are_not(page):
    html = render_page(page)
    assert '<pre class="diff"><code><span class="line file">--- a/Dockerfile</span>' in html
    assert spans(html, "add") == ["+COPY --link . .", "+USER 10001:10001"]
    assert '<code class="language-sh">kubectl rollout undo' in html


def test_diff_lines_are_escaped_one_by_one():
    html = str(highlight_diff('+RUN echo "<script>alert(1)</script>" && x\n-<img src=x onerror=alert(1)>\n'))
    assert spans(html, "add") == ["+RUN echo &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34; &amp;&amp; x"]
    assert spans(html, "del") == ["-&lt;img src=x onerror=alert(1)&gt;"]


def test_untrusted_text_cannot_become_markup(page):
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    html = render_page(dataclasses.replace(
        page,
        title=hostile,
        service=hostile,
        incident_id=hostile,
        markdown=f"# {hostile}\n\n## Findings {hostile}\n\n- {hostile}\n\n{hostile}\n\n[x](javascript:alert(3))\n",
        history=(ReviewEvent(at(6, 0), hostile, hostile, 1, hostile),),
    ))
    tags = parse(html).tags
    assert not [t for t, _ in tags if t in ("script", "img")]
    assert not [a for _, a in tags if any(k.startswith("on") for k in a)]
    assert "javascript:" not in "".join(str(a.get("href")) for _, a in tags)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_sections_get_anchors_and_a_contents_list(page):
    html = render_page(page)
    assert '<h2 id="summary">Summary</h2>' in html
    assert '<h2 id="dockerfile-fix">Dockerfile fix</h2>' in html
    assert '<h2 id="summary-2">Summary</h2>' in html  # a repeated heading gets its own anchor
    contents = html.split('id="pm-contents"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', contents) == [
        ("summary", "Summary"), ("dockerfile-fix", "Dockerfile fix"), ("summary-2", "Summary")]


def test_table_alignment_is_a_class_because_the_policy_forbids_style_attributes(page):
    html = render_page(page)
    assert 'class="align-right"' in html and "style=" not in html.split("</style>", 1)[1]


def test_policy_pins_the_inline_stylesheet_and_allows_no_script(page):
    import base64
    import hashlib

    policy = content_security_policy()
    css = render_page(page).split("<style>", 1)[1].split("</style>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "script-src" not in policy and "unsafe" not in policy


def test_action_items_become_boxes_drawn_by_the_stylesheet(page):
    html = render_page(dataclasses.replace(
        page, markdown="## Action items\n\n- [ ] Merge the `Dockerfile` fix (F1)\n- [x] Roll back\n- plain [ ] item\n"))
    assert '<li class="task">Merge the <code>Dockerfile</code> fix (F1)</li>' in html.replace("\n", "")
    assert '<li class="task done">Roll back</li>' in html.replace("\n", "")
    assert "<li>plain [ ] item</li>" in html
    assert "<input" not in html


def test_inside_a_hunk_the_counts_decide_so_a_removed_sql_comment_is_a_removal():
    diff = "--- a/schema.sql\n+++ b/schema.sql\n@@ -1,3 +1,2 @@\n--- drop me\n---- and me\n SELECT 1;\n+++counter\n"
    html = str(highlight_diff(diff))
    assert spans(html, "file") == ["--- a/schema.sql", "+++ b/schema.sql"]
    assert spans(html, "del") == ["--- drop me", "---- and me"]
    assert spans(html, "add") == ["+++counter"]
    assert spans(html, "ctx") == [" SELECT 1;"]


def test_a_diff_without_hunk_headers_is_still_coloured():
    html = str(highlight_diff("-COPY . .\n+COPY --link . .\n"))
    assert (spans(html, "del"), spans(html, "add")) == (["-COPY . ."], ["+COPY --link . ."])


def test_history_with_naive_and_aware_times_still_sorts(page):
    naive = ReviewEvent(datetime(2024, 5, 14, 6, 10), "carol", "in_review", 1)  # SQLite hands times back naive
    html = render_page(dataclasses.replace(page, history=(*page.history, naive)))
    assert html.index("carol") < html.index("bob")
