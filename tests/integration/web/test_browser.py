"""The web view as a reviewer sees it: uvicorn serves the route, Debian's headless Chromium opens the signed
link, and the screenshot and the DOM are checked.

The draft is a real one: the registry-meltdown scenario's recorded image goes through the image autopsy
and the Dockerfile fixer, and `bot.postmortem` renders it, as the bot does after an incident.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from starlette.applications import Starlette

from bot.lifecycle.evidence import copied_context_files
from bot.dockerfile.fix import fix
from bot.domain import Incident, TimelineEntry
from bot.images.autopsy import autopsy
from bot.postmortem.evidence import DockerfileFix, ImageSummary
from bot.postmortem.render import render_postmortem
from bot.postmortem.view import build_view
from bot.server import serving
from bot.sim.images import ScenarioImageReader
from bot.sim.scenario import load_scenario
from bot.web.links import sign_link
from bot.web.page import PostmortemPage, ReviewEvent
from bot.web.routes import postmortem_routes
from tests.conftest import service_unavailable
from tests.integration.conftest import FakeClock
from tests.integration.web.png import decode_png

pytestmark = [pytest.mark.chromium, pytest.mark.slow]  # slow: starts headless Chromium per test

SECRET = "browser-test-secret-0123456789abcdef"
NOW = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)
# Tall enough for the masthead, the review card and the draft's Dockerfile fix (about 3,600 px down).
WINDOW = (1280, 4400)
CURRENT = "registry.internal:5000/user-profile-service:2024.05.14-1"
PREVIOUS = "registry.internal:5000/user-profile-service:2024.05.02-3"
# Would run only if escaping and the policy both failed; the DOM would then hold this element.
PAYLOAD = "<script>document.body.appendChild(document.createElement('pwned-marker'))</script>"


@dataclass(frozen=True)
class Served:
    base_url: str
    page: PostmortemPage
    added_line: str  # one added line of the draft's Dockerfile diff


def realistic_draft() -> tuple[str, str, str]:
    """The registry-meltdown postmortem (title, markdown, one added diff line), from recorded evidence."""
    scenario = load_scenario("registry-meltdown")
    spec = scenario.incident
    assert spec is not None and spec.resolved_at is not None
    dockerfile = scenario.dockerfile_for(CURRENT)
    assert dockerfile is not None
    report = autopsy(ScenarioImageReader(scenario), CURRENT, dockerfile_text=dockerfile, against=PREVIOUS)
    result = fix(dockerfile, dockerignore_missing=scenario.dockerignore_for(CURRENT) is None,
                 context_files=copied_context_files(report))
    dockerfile_fix = DockerfileFix.from_fix_result(result)
    incident = Incident(id="pd-QA0449E", source="pagerduty", external_id="QA0449E", title=spec.title,
                        service=spec.service, status="resolved", urgency=spec.urgency, created_at=spec.triggered_at,
                        resolved_at=spec.resolved_at, number=spec.incident_number)
    timeline = [
        TimelineEntry(spec.triggered_at, "pagerduty", f"PagerDuty triggers. {spec.title}", "pd:trigger"),
        TimelineEntry(spec.resolved_at, "pagerduty", "PagerDuty resolves.", "pd:resolve"),
    ]
    view = build_view(incident=incident, timeline=timeline, findings=report.findings,
                      image=ImageSummary.from_json(report.to_json()), dockerfile_fix=dockerfile_fix)
    added = next(line for line in dockerfile_fix.diff.splitlines() if line.startswith("+") and
                 not line.startswith("+++"))
    return spec.title, render_postmortem(view), added


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        service_unavailable("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    title, markdown, added = realistic_draft()
    page = PostmortemPage(
        incident_id="pd-QA0449E", title=title, service="user-profile-service", version=2, status="in_review",
        markdown=markdown, generated_at=NOW - timedelta(hours=2),
        history=(
            ReviewEvent(NOW - timedelta(hours=3), "alice", "in_review", 1),
            ReviewEvent(NOW - timedelta(hours=2, minutes=30), "bob", "changes_requested", 1,
                        "The timeline misses the 02:41 rollout of revision 8.\nAdd the HPA scale-ups too."),
            ReviewEvent(NOW - timedelta(hours=1), "alice", "in_review", 2),
        ),
    )
    hostile = PostmortemPage(
        incident_id="pd-HOSTILE", title=f"5xx {PAYLOAD}", service=PAYLOAD, version=1, status="draft",
        markdown=f"# x\n\n## Findings\n\n- {PAYLOAD}\n\n{PAYLOAD}\n\n```diff\n+{PAYLOAD}\n```\n",
        history=(ReviewEvent(NOW, PAYLOAD, "changes_requested", 1, PAYLOAD),), generated_at=NOW,
    )
    pages = {p.incident_id: p for p in (page, hostile)}
    app = Starlette(routes=postmortem_routes(load=pages.get, secret=SECRET, clock=FakeClock(NOW).now))
    with serving(app) as url:
        yield Served(url, page, added)


def signed(served: Served, incident_id: str, *, expires_at: datetime) -> str:
    return sign_link(base_url=served.base_url, incident_id=incident_id, secret=SECRET, expires_at=expires_at)


def run_chromium(chromium: str, profile: Path, url: str, *extra: str) -> str:
    args = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        "--force-device-scale-factor=1", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *extra, url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Text(HTMLParser):
    """The visible text of a DOM, and the text of the element with a given id."""

    def __init__(self, wanted_id: str) -> None:
        super().__init__()
        self.wanted_id, self.depth, self.parts, self.wanted = wanted_id, 0, [], []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.wanted_id:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        self.parts.append(data)
        if self.depth:
            self.wanted.append(data)


def stylesheet_colour(name: str) -> tuple[int, int, int]:
    css = (resources.files("bot.web") / "templates" / "postmortem.css").read_text()
    match = re.search(rf"--{name}: #([0-9a-f]{{6}})", css)
    assert match, name
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def test_reviewer_sees_title_state_history_and_coloured_diff(chromium: str, served: Served, tmp_path: Path) -> None:
    url = signed(served, "pd-QA0449E", expires_at=NOW + timedelta(days=7))
    shot = tmp_path / "postmortem.png"
    run_chromium(chromium, tmp_path / "profile", url, f"--screenshot={shot}")

    image = decode_png(shot.read_bytes())
    assert (image.width, image.height) == WINDOW
    assert image.distinct_colours(limit=40) >= 40, "the screenshot is (nearly) blank"
    assert image.pixel(4, 4) == stylesheet_colour("head"), "the masthead is not at the top"
    assert image.count(stylesheet_colour("in-review"), at_least=200) == 200, "no in-review badge"
    assert image.count(stylesheet_colour("add-bg"), at_least=5000) == 5000, "no green added diff lines"
    assert image.count(stylesheet_colour("del-bg"), at_least=5000) == 5000, "no red removed diff lines"

    dom = run_chromium(chromium, tmp_path / "profile", url, "--dump-dom")
    text = Text("pm-state")
    text.feed(dom)
    visible = " ".join("".join(text.parts).split())
    assert served.page.title in visible
    assert "".join(text.wanted) == "In review"
    assert served.added_line in dom.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    assert '<span class="line add">' in dom
    assert "Requested changes v1 bob" in visible
    assert "The timeline misses the 02:41 rollout of revision 8." in visible


def test_untrusted_text_does_not_run_in_the_browser(chromium: str, served: Served, tmp_path: Path) -> None:
    dom = run_chromium(chromium, tmp_path / "profile",
                       signed(served, "pd-HOSTILE", expires_at=NOW + timedelta(hours=1)), "--dump-dom")
    assert "&lt;script&gt;document.body.appendChild" in dom  # the payload is shown, as text
    assert "<pwned-marker" not in dom and "<script" not in dom


def test_expired_link_shows_the_403_text(chromium: str, served: Served, tmp_path: Path) -> None:
    url = signed(served, "pd-QA0449E", expires_at=NOW - timedelta(seconds=1))
    dom = run_chromium(chromium, tmp_path / "profile", url, "--dump-dom")
    assert "403 Forbidden: this link has expired" in dom
    assert served.page.title not in dom
