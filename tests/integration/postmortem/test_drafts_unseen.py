"""The postmortem drafts of incidents other than the demo, read as a reviewing SRE reads them.

Each scenario is paged to `coroner serve`'s own app and workers (tests/integration/paged.py): signed
PagerDuty deliveries, the diagnosis against the sim through the official kubernetes client, the draft the
workers store on resolve, and its web view behind the signed link. What each draft must say is the SRE
answer at the top of the scenario's YAML, written here before the drafts were read: the Summary names the
cause and how it ended, the P0 is aimed at the cause (the culprit's limit, the HPA's ceiling, the pull
credentials, the rollout's own change), the action items fit the incident's class, and nothing of the
demo's story (image growth, HPA pulls, a registry storm) appears where there was none. These are
properties, not whole-text goldens: the demo's golden (tests/e2e) holds the wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.doubles.slack_web import SlackDouble, running_slack_web
from tests.integration.paged import paged

pytestmark = pytest.mark.slow  # serve, its workers and the sim per scenario

TEST_SCENARIOS = Path(__file__).parents[1] / "diagnose" / "scenarios"
SECTIONS = ["Summary", "Impact", "Detection and response", "Root cause and trigger", "Contributing factors",
            "Timeline", "Action items", "Lessons", "Appendix"]
# What only the demo's outage (an image that grew, pulled by an HPA from a registry that gave way) may say.
DEMO_STORY = ("HPA pulls", "registry 503", "pull storms", "Where the image's bytes came from", "Remove the culprit layers",
              "Gate the image in CI", "Predicted size")


@dataclass(frozen=True)
class Case:
    """One scenario's SRE answer, as the draft must carry it."""

    scenario: str  # a shipped scenario's name, or a file under tests/integration/diagnose/scenarios
    cause: tuple[str, ...]  # words the Summary's cause holds
    rollback: int | None = None  # the revision the draft recommends rolling back to
    p0: tuple[str, ...] | None = None  # words of the first P0 action item; None: no P0 claims a prevention
    actions: tuple[str, ...] = ()  # words some action item holds (the detection, the mitigation)
    factors: tuple[str, ...] = ()  # words of Contributing factors
    also_hit: tuple[str, ...] = ()  # other workloads the Impact names
    not_said: tuple[str, ...] = ()  # claims wrong for this incident, anywhere before the appendix

    @property
    def path(self) -> str | Path:
        local = TEST_SCENARIOS / f"{self.scenario}.yaml"
        return local if local.exists() else self.scenario


CASES = [
    Case("noisy-neighbour", cause=("analytics/nightly-reindex", "memory"),
         p0=("analytics/nightly-reindex", "limits.memory", "resources: {limits: {memory"),
         actions=("Page on node memory pressure",), factors=("PriorityClass", "batch-high"),
         also_hit=("shop/recommendation-api",), not_said=("disk pressure", "DiskPressure", "scale-up rate")),
    Case("healthy-service", cause=("no fault found in orders/order-api",),
         not_said=("MemoryPressure", "DiskPressure", "Evict", "| P1 |", "rollout undo")),
    Case("nodefs-logs-fill", cause=("telemetry/event-collector", "nodefs"),
         p0=("telemetry/event-collector", "sizeLimit"), actions=("nodefs",), also_hit=("catalog/search-indexer",),
         not_said=("image GC high threshold", "crictl")),
    Case("config-change-crashloop", cause=("revision 15", "/etc/worker/config.yaml"), rollback=14,
         p0=("revision 15",), factors=("No check before production",),
         not_said=("DiskPressure", "MemoryPressure", "fixed image", "kubectl logs --previous")),
    Case("memory-pressure-storm", cause=("analytics/report-worker", "memory"),
         p0=("analytics/report-worker", "limits.memory"), actions=("Page on node memory pressure",),
         also_hit=("edge/api-gateway",),
         not_said=("Rolling back other services", "raise its limit or fix the leak", "DiskPressure")),
    Case("crashloop-bad-config", cause=("revision 7", "configMap"), rollback=6, p0=("revision 7",),
         not_said=("kubectl logs --previous", "fixed image")),
    Case("node-lost", cause=("k-3",), actions=('condition="Ready"', "topologySpreadConstraints"),
         also_hit=("payments/fraud-scorer", "risk/rules-engine"),
         not_said=("DiskPressure", "disk pressure", "1 nodes", "rollout undo")),
    Case("oom-traffic-growth", cause=("HPA at its maximum",), p0=("maxReplicas", "limits.memory", "OOMKilled"),
         not_said=("scale-up rate", "amplified the failure", "rollout undo")),
    Case("hpa-max-cpu", cause=("HPA at its maximum",), p0=("maxReplicas",),
         not_said=("scale-up rate", "amplified the failure", "rollout undo")),
    Case("tainted-pending", cause=("untolerated taint",), actions=("cluster autoscaler",),
         not_said=("rollout undo", "after a rollout", "Nothing contained the trigger")),
    Case("probe-path-change", cause=("revision 22", "readinessProbe"), rollback=21, p0=("revision 22",),
         not_said=("fixed image",)),
    Case("limit-cut", cause=("revision 9", "limits.memory"), rollback=8, p0=("revision 9",),
         not_said=("fixed image", "Size the memory limit")),
    Case("bad-tag", cause=("revision 3", "mailer:2.5.O"), rollback=2, p0=("docker manifest inspect",)),
    Case("registry-auth-outage", cause=("401 Unauthorized",), p0=("pull credentials", "401/403"),
         not_said=("after a rollout", "roll back to revision")),
    Case("pid-fork-bomb", cause=("PIDPressure", "logging/log-forwarder"), p0=("logging/log-forwarder", "leaks"),
         actions=("PIDPressure", "podPidsLimit"),
         also_hit=("billing/ledger",), not_said=("DiskPressure", "disk pressure", "after a rollout")),
    Case("dependency-crashloop", cause=("orders-db-0",), actions=("instead of exiting",),
         not_said=("rollout undo", "roll back to revision", "kubectl logs --previous")),
    Case("nodefs-logs", cause=("container logs of batch/chatty",), p0=("batch/chatty", "containerLogMaxSize"),
         not_said=("a sizeLimit on its emptyDir volumes", "crictl", "image GC high threshold")),
    Case("statefulset-emptydir", cause=("data/kafka-mirror",), p0=("data/kafka-mirror", "sizeLimit"),
         not_said=("image GC high threshold", "crictl")),
]


def section(draft: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", draft, flags=re.S | re.M)
    assert match, f"no section {title!r} in the draft"
    return match.group(1)


def rows(draft: str) -> list[list[str]]:
    """The action items' cells: #, priority, kind, action, change, owner, evidence (GFM: `\\|` stays in a cell)."""
    table = section(draft, "Action items").split("\n### ", 1)[0]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in table.splitlines() if re.match(r"^\| \d+ \|", line)]


@pytest.fixture
def slack_api() -> Iterator[SlackDouble]:
    with running_slack_web() as double:
        yield double


@pytest.fixture
def paged_draft(tmp_path: Path, slack_api: SlackDouble, pagerduty_api: Any) -> Any:
    """`paged_draft(case, title_suffix=...)` -> (draft, its web page): the incident paged, acknowledged and
    resolved through serve; SQLite (the slack tests run both stores)."""
    def run(scenario: str | Path, **options: Any) -> tuple[str, str]:
        with paged(scenario, database=f"sqlite:///{tmp_path / 'coroner.db'}", tmp_path=tmp_path,
                   slack_api=slack_api, pagerduty_api=pagerduty_api, **options) as incident:
            draft = incident.page_to_draft()
            url = incident.services.draft_url(incident.incident_id)
            assert url, "no signed link to the draft"
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200, page.text
            return draft, page.text
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_the_draft_reads_as_the_sre_answer(case: Case, paged_draft: Any) -> None:
    draft, page = paged_draft(case.path)
    assert [line[3:] for line in draft.splitlines() if line.startswith("## ")] == SECTIONS
    story = draft[: draft.index("## Appendix")]

    # The Summary alone: the cause, how it ended, and no rollback that was not indicated.
    summary = section(draft, "Summary").strip()
    assert "\n" not in summary, "the Summary is one paragraph"
    for word in case.cause:
        assert word in summary, (word, summary)
    if case.rollback is None:
        assert "No rollback was indicated" in summary and "roll back" not in summary.lower(), summary
        assert "the reviewers should say what ended it" in summary
    else:
        assert f"rolling back to revision {case.rollback}" in summary

    # Action items: at most ten, sorted by priority, one per meaning, the P0 aimed at this cause.
    items = rows(draft)
    assert 1 <= len(items) <= 10
    assert [r[1] for r in items] == sorted(r[1] for r in items)
    assert all(r[1] in ("P0", "P1", "P2") and r[2] in ("prevent", "detect", "mitigate") for r in items), items
    assert len({r[3] for r in items}) == len(items), "an action stated twice"
    assert not [r for r in items if r[4] == "see the finding's evidence"], "an action without its concrete change"
    hygiene = [r for r in items if r[3].startswith("Dockerfile and image hygiene")]
    assert len(hygiene) == 1 and hygiene[0][1] == "P2"  # the team's Go Dockerfile: lint, never the fix
    p0 = [r for r in items if r[1] == "P0"]
    if case.p0 is None:
        assert not p0, p0
        assert "To prevent a recurrence" not in summary
    else:
        assert p0 and all(word in " ".join(p0[0]) for word in case.p0), (case.p0, p0)
        # The Summary carries each P0's first clause, short; the Action items the whole of it.
        prevent = re.search(r"To prevent a recurrence: (.*) \(see Action items\)\.$", summary)
        assert prevent, summary
        clauses = prevent.group(1).split("; ")
        assert len(clauses) == len(p0) and all(len(c.split()) <= 26 for c in clauses), clauses
        for clause, row in zip(clauses, p0, strict=True):
            assert row[3].lower().startswith(clause.removesuffix(" …").lower()), (clause, row[3])
    for word in case.actions:
        assert any(word in " ".join(r) for r in items), (word, items)
    undo = [r for r in items if "rollout undo" in r[4]]
    assert (len(undo) == 1 and f"--to-revision={case.rollback}" in undo[0][4]) if case.rollback else not undo

    # Contributing factors and Lessons tell this incident, and agree with each other.
    factors = section(draft, "Contributing factors")
    lessons = section(draft, "Lessons")
    for word in case.factors:
        assert word in factors, (word, factors)
    if "see Contributing factors" in lessons:
        assert "None recorded" not in factors, (lessons, factors)
    cause_section = section(draft, "Root cause and trigger")
    assert ("What amplified it is under Contributing factors" in cause_section) == ("None recorded" not in factors
                                                                                    and "amplif" in lessons)
    if case.scenario != "healthy-service":
        assert "**Trigger**" in cause_section, cause_section
    for word in case.also_hit:
        assert word in section(draft, "Impact"), word
    # Every scenario's rollout check counts the ready pods, so the peak is measured (0 when all were ready).
    assert re.search(r"^- Pods not ready at peak: \d+ of \d+", section(draft, "Impact"), re.M), section(draft, "Impact")
    for claim in (*case.not_said, *DEMO_STORY):
        assert claim not in story, claim

    # The curated timeline and the four figures, a missing one shown as missing.
    moments = [line for line in section(draft, "Timeline").splitlines() if line.startswith("- **")]
    assert 3 <= len(moments) <= 15
    figures = re.findall(r"^\| (Time to \w+) \| [^|]+ \| ([^|]+) \|", section(draft, "Detection and response"), re.M)
    assert [name for name, _ in figures] == ["Time to detect", "Time to acknowledge", "Time to mitigate",
                                             "Time to resolve"]
    assert all(re.fullmatch(r"missing|\d+ (s|min)|\d+ h( \d+ min)?", value.strip()) for _, value in figures), figures

    # The full timeline is in time order, and Coroner's note (stamped by PagerDuty when it was added, during
    # the incident) sits between the page and the resolution.
    full = re.findall(r"^- \[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (.*)$", draft.split("### Full timeline", 1)[1], re.M)
    assert [at for at, _ in full] == sorted(at for at, _ in full)
    notes = [at for at, text in full if text.startswith("Coroner added a note")]
    started, resolved = (re.search(rf"^\| {name} \| (.+?) UTC \|$", draft, re.M) for name in ("Started", "Resolved"))
    assert started and resolved and notes
    assert all(started.group(1) <= at <= resolved.group(1) for at in notes), (notes, started, resolved)

    # A blind spot is an action item only when a check was refused, timed out or could not read; an image
    # that does not exist (the sims record none for these services) is an answer, kept in the appendix.
    gaps = re.findall(r"^- \*\*F\d+\*\* `check-(?:failed|forbidden|timeout)`.*\n((?:  - .*\n)*)",
                      draft.split("### Evidence", 1)[1], re.M)
    blind = [g for g in gaps if "`not_found`: true" not in g]
    assert bool(blind) == any(r[3].startswith("Let the diagnosis see") for r in items), (gaps, items)

    # The evidence reads as a person reads it, in the draft and its page: no value is dumped as JSON, and the
    # blast radius names each workload hit with its count.
    evidence = draft.split("### Evidence", 1)[1].split("### Full timeline", 1)[0]
    assert not re.search(r'\{"|\\?\["', evidence), re.search(r'.*(\{"|\\?\[").*', evidence)
    assert not re.search(r"\{(&#34;|&quot;)", page)
    for hit in case.also_hit:
        assert re.search(rf"^  - `workloads_hit`: .*{re.escape(hit)}: \d+", evidence, re.M), hit

    # The web view renders the same draft: every action item a row of its table.
    assert page.count("<tr>") >= len(items) + 1 and "Action items" in page


HOSTILE = ' <!channel> <b>bold</b> | *star* `tick` [link](http://evil.example) _u_'
HOSTILE_EXIT = 'boom | <img src=x onerror=alert(1)> *star* `tick` [link](http://evil.example) ~x~'


def test_untrusted_text_stays_text_in_the_draft_and_its_page(paged_draft: Any, tmp_path: Path) -> None:
    """A page title and a container's exit message (which lands in an action item's table cell) carrying
    Markdown and HTML: escaped in the draft, the table keeps its columns, and the web page shows them as
    text."""
    source = (TEST_SCENARIOS / "dependency-crashloop.yaml").read_text(encoding="utf-8")
    scenario = tmp_path / "dependency-crashloop-hostile.yaml"
    message = re.search(r'message: "(psycopg2[^"]*)"', source)
    assert message
    scenario.write_text(source.replace(message.group(1), HOSTILE_EXIT), encoding="utf-8")
    draft, page = paged_draft(scenario, title_suffix=HOSTILE)
    assert r"\<\!channel\> \<b\>bold\</b\> \| \*star\* \`tick\` \[link\](http://evil.example) \_u\_" in draft
    (crash,) = [r for r in rows(draft) if "instead of exiting" in r[4]]
    assert len(crash) == 7  # the `|` of the message did not split the cell
    assert r"boom \| \<img src=x onerror=alert(1)\> \*star\*" in crash[4]
    for raw in ("<b>bold", "<img", "<!channel>", 'href="http://evil.example"', "<em>star", "<del>"):
        assert raw not in page, raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
