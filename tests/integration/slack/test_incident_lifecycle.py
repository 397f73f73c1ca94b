"""The README's promise through `coroner serve`'s own app and workers: a signed page becomes a live Slack
thread with the diagnosis, later PagerDuty events edit the root and add lines, and a resolve drafts the
postmortem and posts its review notice. Slack is the local Web API double; the cluster is the simulator
read through the official client; the database is SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from urllib.parse import urlencode

import httpx
import pytest

from bot.incidents.simulate import delivery_headers, incident_event_body, note_event_body, service_id_for
from bot.server import serving
from bot.settings import Settings
from bot.sim.images import ScenarioImageReader
from bot.slack.health import start_auth_check
from bot.sim.scenario import load_scenario
from bot.sim.server import running_sim
from bot.web.links import PostmortemLinks
from bot.wiring import build, build_app
from bot.worker import start_workers
from tests.conftest import service_unavailable
from tests.doubles.pagerduty_api import incident_story
from tests.integration.paged import text_of, wait_until
from tests.integration.web.test_browser import run_chromium

pytestmark = pytest.mark.slow  # the whole serve pipeline per test, with Slack, PagerDuty and the sim

SECRET = "pd-lifecycle-secret"
WEB_SECRET = "lifecycle-web-secret-0123456789abcdef"
SERVICE = "user-profile-service"
CHANNEL = "#user-profile"
T0 = datetime(2024, 5, 14, 3, 2, 11, tzinfo=UTC)


@dataclass
class Bot:
    url: str
    services: Any
    slack: Any
    kit: Any
    incident_pd_id: str = "PLIFE01"
    pd: Any = None  # the PagerDuty REST double: knows each incident the tests page about
    stop: threading.Event | None = None
    workers: list[threading.Thread] | None = None

    def start_workers(self) -> None:
        """(Re)start serve's workers, so that handlers are built from the services as they are now."""
        if self.stop is not None:
            self.stop.set()
            for thread in self.workers or []:
                thread.join(timeout=10)
        self.stop = threading.Event()
        self.workers = start_workers(self.services.store, lambda name: self.services.handlers(worker=name),
                                     count=2, stop=self.stop, idle_seconds=0.05)

    def click(self, action_id: str, value: str, *, user: str, message: dict[str, Any]) -> httpx.Response:
        """A person clicks a button of `message`: the signed block_actions request Slack sends."""
        payload = {
            "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": user, "team_id": "T0001"},
            "api_app_id": "A0001", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"],
                          "thread_ts": message.get("thread_ts")},
            "channel": {"id": message["channel"]}, "message": {"ts": message["ts"],
                                                              "thread_ts": message.get("thread_ts")},
            "response_url": self.slack.webhook(f"T1/{user}/{action_id}"),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "actions",
                         "value": value, "action_ts": "1.3"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return httpx.post(f"{self.url}/slack/events", content=body, headers=self.kit.sign(body), timeout=10)

    def send(self, body: bytes, *, webhook_id: str | None = None) -> httpx.Response:
        pd_id = json.loads(body)["event"]["data"].get("id")
        if self.pd is not None and pd_id and pd_id not in self.pd.incidents and b"incident_note" not in body:
            self.pd.add_incident(pd_id, log_entries=incident_story(T0))
        headers = delivery_headers(body, secrets=[SECRET], webhook_id=webhook_id)
        return httpx.post(f"{self.url}/pagerduty/webhook", content=body, headers=headers, timeout=10)

    def event(self, event_type: str, *, minutes: float, agent: str | None = "Alice Oncall",
              assignees: tuple[str, ...] = (), event_id: str | None = None) -> bytes:
        return incident_event_body(
            event_type, event_id=event_id or f"ev-{event_type}-{minutes}", incident_id=self.incident_pd_id,
            title="[prod] user-profile-service: 5xx rate 38% <!channel>", service=SERVICE,
            occurred_at=T0 + timedelta(minutes=minutes), created_at=T0, number=4127,
            agent=None if event_type == "incident.triggered" else agent, assignees=assignees,
        )


@pytest.fixture(params=["sqlite", "postgres"])
def bot(request, tmp_path: Path, slack_api, kit, pagerduty_api) -> Iterator[Bot]:
    database = (f"sqlite:///{tmp_path / 'coroner.db'}" if request.param == "sqlite"
                else request.getfixturevalue("postgres_url"))
    scenario = load_scenario("registry-meltdown")
    dockerfile = tmp_path / "service" / "Dockerfile"
    dockerfile.parent.mkdir()
    deployed = "registry.internal:5000/user-profile-service:2024.05.14-1"
    dockerfile.write_text(scenario.dockerfile_for(deployed) or "FROM scratch\n")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        f"services:\n  {SERVICE}:\n    namespace: prod\n    pagerduty_service_id: {service_id_for(SERVICE)}\n"
        f"    slack_channel: '{CHANNEL}'\n    dockerfile: service/Dockerfile\n"
    )
    with running_sim(scenario) as sim, contextlib.ExitStack() as stack:
        pagerduty_api.clock = sim.api  # PagerDuty stamps Coroner's note at the scenario's time, not today's
        settings = Settings(
            database_url=database, kubeconfig=sim.write_kubeconfig(tmp_path / "kubeconfig"),
            slack_signing_secret=kit.secret, slack_bot_token=kit.token, slack_api_url=slack_api.api_url,
            pagerduty_webhook_secrets=[SECRET], catalog_file=catalog, node_proxy_enabled=True,
            reviewers=["U0LEAD", "S0SRE"], web_secret=WEB_SECRET, rollback_enabled=True,
            pagerduty_api_token=pagerduty_api.token, pagerduty_api_url=pagerduty_api.url,
            pagerduty_from_email="coroner@example.com",
        )
        slack_api.usergroups["S0SRE"] = ["U0GROUPIE"]
        services = build(settings, images=ScenarioImageReader(scenario))
        services.store.upgrade()
        url = stack.enter_context(serving(build_app(services, pending_sweep_seconds=1.0)))
        # The links in Slack start at the bot's public URL: here, where uvicorn listens.
        services.settings = settings.model_copy(update={"public_url": url})
        services.links = PostmortemLinks.from_settings(services.settings)
        # As serve does: auth.test in the background tells when Slack is back (here with short retries).
        stack.callback(start_auth_check(services.slack_app().client, services.slack_health,
                                        retry_seconds=0.2, max_retry_seconds=1.0).close)
        running = Bot(url=url, services=services, slack=slack_api, kit=kit, pd=pagerduty_api)
        running.start_workers()
        stack.callback(lambda: running.stop.set() if running.stop else None)
        yield running


def posts(slack, *, thread_ts: str | None = None) -> list[dict[str, Any]]:
    found = [r.body for r in slack.calls("/api/chat.postMessage")]
    return [b for b in found if (b.get("thread_ts") or None) == thread_ts]


def root_of(slack) -> dict[str, Any]:
    roots = posts(slack)
    assert len(roots) == 1, roots
    return roots[0]


def root_ts(slack) -> str:
    with slack.lock:
        return next(ts for (channel, ts), m in slack.messages.items() if not m.get("thread_ts"))


def current_root(slack) -> dict[str, Any]:
    with slack.lock:
        return dict(slack.messages[(CHANNEL, root_ts(slack))])


@pytest.mark.chromium  # opens the draft link in Chromium at the end
def test_page_to_thread_to_draft(bot: Bot) -> None:
    slack = bot.slack
    started = time.monotonic()
    assert bot.send(bot.event("incident.triggered", minutes=0), webhook_id="d-trig").status_code == 202

    # The root message lands in the catalog's channel, escaped, and gains the probable cause.
    root = wait_until(lambda: posts(slack), what="the root message")[0]
    assert root["channel"] == CHANNEL
    assert "&lt;!channel&gt;" in text_of(root) and "<!channel>" not in text_of(root)
    ts = root_ts(slack)
    diagnosis = wait_until(lambda: posts(slack, thread_ts=ts), what="the diagnosis in the thread")[0]
    assert "image-size-regression" in text_of(diagnosis) and "--to-revision=4" in text_of(diagnosis)
    cause = wait_until(lambda: "Probable cause" in text_of(current_root(slack)) and current_root(slack),
                       what="the probable cause on the root")
    # Leads with the diagnosis's cause, and keeps the rollback clause because the decision recommends it.
    assert "Probable cause:* revision 5 (image 4.2 GB, 19.5× revision 4) →" in text_of(cause)
    assert "roll back to revision 4" in text_of(cause)
    assert time.monotonic() - started < 10

    # Later events: the root is edited in place, one line each in the thread.
    bot.send(bot.event("incident.acknowledged", minutes=4), webhook_id="d-ack")
    wait_until(lambda: "*Status:* acknowledged" in text_of(current_root(slack)), what="the root acknowledged")
    bot.send(note_event_body(event_id="ev-note", incident_id=bot.incident_pd_id, occurred_at=T0 + timedelta(minutes=6),
                             content="Registry <b>down</b>; nodes out of disk", agent="Alice Oncall"),
             webhook_id="d-note")
    bot.send(bot.event("incident.escalated", minutes=8, agent="Alice Oncall", assignees=("Bob Secondary",)),
             webhook_id="d-esc")
    lines = wait_until(lambda: len(posts(slack, thread_ts=ts)) >= 4 and posts(slack, thread_ts=ts),
                       what="three event lines")
    texts = [text_of(m) for m in lines[1:]]
    assert any("acknowledged" in t for t in texts)
    assert any("Registry &lt;b&gt;down&lt;/b&gt;" in t for t in texts)
    assert any("Bob Secondary" in t for t in texts)
    # PagerDuty re-triggers an incident it escalates: the root says so, and names the new assignee.
    wait_until(lambda: "Bob Secondary" in text_of(current_root(slack)), what="the new assignee on the root")

    # A duplicate delivery, of any of them, posts nothing.
    before = len(slack.calls("/api/chat.postMessage"))
    assert bot.send(bot.event("incident.acknowledged", minutes=4), webhook_id="d-ack").json()["status"] == "duplicate"
    assert bot.send(bot.event("incident.triggered", minutes=0), webhook_id="d-trig-again").json()["status"] == "duplicate"

    # Resolve: a draft is stored and announced in the thread with its review buttons.
    bot.send(bot.event("incident.resolved", minutes=149), webhook_id="d-res")
    notice = wait_until(lambda: [m for m in posts(slack, thread_ts=ts) if "coroner_pm_approve" in text_of(m)],
                        what="the postmortem notice")[0]
    for action in ("coroner_pm_start_review", "coroner_pm_request_changes"):
        assert action in text_of(notice)
    with bot.services.store.unit_of_work() as uow:
        (version,) = uow.postmortems.versions(f"pd-{bot.incident_pd_id}")
    assert version.status.value == "draft" and "cuda" in version.body_markdown.lower()
    time.sleep(1.0)  # let any stray job run: nothing may be posted twice
    keys = [(m.get("channel"), m.get("thread_ts"), text_of(m)) for m in posts(slack, thread_ts=ts) + posts(slack)]
    assert len(keys) == len(set(keys))
    assert len(slack.calls("/api/chat.postMessage")) == before + 2  # the resolved line and the notice

    # Review in Slack: a stranger's Approve is refused (and audited), a reviewer's approves it.
    incident_id = f"pd-{bot.incident_pd_id}"
    stored_notice = next(m for (channel, ts), m in slack.messages.items() if "coroner_pm_approve" in text_of(m))
    notice_ts = next(ts for (channel, ts), m in slack.messages.items() if m is stored_notice)
    message = {"ts": notice_ts, "channel": CHANNEL, "thread_ts": ts}
    value = json.dumps({"incident_id": incident_id, "version": 1})
    assert bot.click("coroner_pm_approve", value, user="U0STRANGER", message=message).status_code == 200
    refusal = wait_until(lambda: slack.calls("/webhook/T1/U0STRANGER/"), what="the refusal")[0].body
    assert refusal["response_type"] == "ephemeral" and "CORONER_REVIEWERS" in json.dumps(refusal)
    assert bot.click("coroner_pm_approve", value, user="U0LEAD", message=message).status_code == 200

    def approved() -> bool:
        with slack.lock:
            return "`approved`" in text_of(slack.messages[(CHANNEL, notice_ts)])

    wait_until(approved, what="the notice updated in place")
    with bot.services.store.unit_of_work() as uow:
        (version,) = uow.postmortems.versions(incident_id)
        audit = [(r.actor, r.action) for r in uow.audit.list(target=incident_id)]
    assert version.status.value == "approved"
    assert audit == [("U0STRANGER", "postmortem.approve.refused"), ("U0LEAD", "postmortem.in_review"),
                     ("U0LEAD", "postmortem.approved")]
    # A member of a reviewer group is a reviewer too (usergroups.users.list); approved is final.
    assert bot.click("coroner_pm_approve", value, user="U0GROUPIE", message=message).status_code == 200
    final = wait_until(lambda: slack.calls("/webhook/T1/U0GROUPIE/"), what="the answer to the group member")[0]
    assert "cannot become approved" in json.dumps(final.body)

    # The notice's "Open draft" link is signed; Chromium opens it and shows the approved draft and its diff.
    url = next(e["url"] for b in json.loads(text_of(stored_notice)) if b["type"] == "actions"
               for e in b["elements"] if e.get("url"))
    assert url.startswith(bot.url + "/postmortems/" + incident_id + "?")
    assert httpx.get(url.replace("sig=", "sig=0"), timeout=10).status_code == 403
    chromium = shutil.which("chromium")
    if chromium is None:
        service_unavailable("Debian's chromium is not installed (apt-get install chromium)")
    dom = run_chromium(chromium, Path(tempfile.mkdtemp()) / "profile", url, "--dump-dom")
    assert "user-profile-service: 5xx rate 38%" in dom and "Approved" in dom
    assert '<span class="line add">' in dom and "--no-install-recommends" in dom


def test_rollback_from_the_thread_patches_the_deployment_for_reviewers_only(bot: Bot) -> None:
    slack = bot.slack
    bot.send(bot.event("incident.triggered", minutes=0), webhook_id="d-trig")
    ts = wait_until(lambda: posts(slack) and root_ts(slack), what="the root message")
    diagnosis = wait_until(lambda: posts(slack, thread_ts=ts), what="the diagnosis")[0]
    # CORONER_ROLLBACK_ENABLED: serve offers the button on the diagnosis it posts.
    button = next(e for b in json.loads(text_of(diagnosis)) if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "coroner_rollback")
    assert json.loads(button["value"])["revision"] == 4 and "confirm" in button
    message = {"ts": next(t for (c, t), m in slack.messages.items() if m is diagnosis or m == diagnosis),
               "channel": CHANNEL, "thread_ts": ts}

    assert bot.click("coroner_rollback", button["value"], user="U0STRANGER", message=message).status_code == 200
    refusal = wait_until(lambda: slack.calls("/webhook/T1/U0STRANGER/"), what="the refusal")[0].body
    assert "CORONER_REVIEWERS" in json.dumps(refusal)
    cluster = bot.services.cluster_for(SERVICE)
    assert cluster.get_deployment("prod", SERVICE).containers[0].image.endswith(":2024.05.14-1")  # untouched

    assert bot.click("coroner_rollback", button["value"], user="U0LEAD", message=message).status_code == 200
    lines = wait_until(lambda: [text_of(m) + str(m.get("text")) for m in posts(slack, thread_ts=ts)
                                if "rolled" in str(m.get("text")) or "rollout" in str(m.get("text"))],
                       what="the rollback's result in the thread")
    assert "<@U0LEAD> rolled `prod/user-profile-service` back to revision 4" in lines[0]
    wait_until(lambda: any("successfully rolled out" in str(m.get("text")) for m in slack.messages.values()),
               what="the rollout's progress reaching done", timeout=60)
    assert cluster.get_deployment("prod", SERVICE).containers[0].image.endswith(":2024.05.02-3")
    with bot.services.store.unit_of_work() as uow:
        audit = [(r.actor, r.action, r.details.get("revision")) for r in uow.audit.list(target=f"prod/{SERVICE}")]
    assert audit == [("U0STRANGER", "rollback.refused", None), ("U0LEAD", "rollback", 4)]


def test_slack_down_delays_the_thread_and_loses_nothing(bot: Bot) -> None:
    """Slack answers 503 to everything: the intake keeps accepting, /readyz says Slack is degraded, the
    posts wait in the queue with backoff, and the thread appears, once each, when Slack is back."""
    slack = bot.slack
    slack.down = True
    assert bot.send(bot.event("incident.triggered", minutes=0), webhook_id="d-trig").status_code == 202
    assert bot.send(bot.event("incident.acknowledged", minutes=3), webhook_id="d-ack").status_code == 202

    def degraded() -> dict[str, Any] | None:
        ready = httpx.get(f"{bot.url}/readyz", timeout=5)
        return ready.json() if ready.status_code == 200 and ready.json().get("slack") == "degraded" else None

    ready = wait_until(degraded, what="/readyz to report Slack degraded")
    assert "upstream unavailable" in ready["slack_error"] and ready["database"] == "ok"
    attempts = wait_until(lambda: len(slack.calls("/api/chat.postMessage")) >= 2 and
                          slack.calls("/api/chat.postMessage"), what="retries while Slack is down")
    assert not slack.messages  # Slack took nothing yet
    slack.down = False
    # The waiting posts go as soon as Slack is seen back, not at their next backoff time (up to minutes).
    ts = wait_until(lambda: slack.messages and root_ts(slack), what="the root once Slack is back", timeout=20)
    lines = wait_until(lambda: [m for m in slack.messages.values() if m.get("thread_ts") == ts
                                and "acknowledged" in text_of(m)], what="the acknowledged line", timeout=40)
    assert len(lines) == 1
    roots = [m for m in slack.messages.values() if not m.get("thread_ts")]
    assert len(roots) == 1 and len(attempts) >= 2
    wait_until(lambda: httpx.get(f"{bot.url}/readyz", timeout=5).json().get("slack") == "ok",
               what="/readyz to report Slack ok again")


def test_an_alert_storm_is_one_diagnosis_posted_to_every_thread(bot: Bot) -> None:
    """PagerDuty opens many incidents for one broken service: they share one diagnosis (the coalescing
    window), and each incident's thread gets it."""
    storm = [f"PSTORM{n}" for n in range(4)]
    for n, pd_id in enumerate(storm):
        bot.incident_pd_id = pd_id
        assert bot.send(bot.event("incident.triggered", minutes=n / 10)).status_code == 202
    slack = bot.slack

    def threads_with_diagnosis() -> list[str]:
        roots = {ts: m for (c, ts), m in slack.messages.items() if not m.get("thread_ts")}
        return [ts for ts in roots if any(m.get("thread_ts") == ts and "image-size-regression" in text_of(m)
                                          for m in slack.messages.values())]

    wait_until(lambda: len(threads_with_diagnosis()) == len(storm), what="the diagnosis in every thread", timeout=60)
    with bot.services.store.unit_of_work() as uow:
        jobs = uow.jobs.list(kind="diagnose_incident")
        runs = [r for pd_id in storm for r in uow.diagnoses.list_for_incident(f"pd-{pd_id}")]
    assert len(jobs) == 1 and len(runs) == 1
    # Each root shows the probable cause (the root is edited right after the thread post).
    def roots() -> list[dict[str, Any]]:
        with slack.lock:
            return [m for m in slack.messages.values() if not m.get("thread_ts")]

    wait_until(lambda: all("Probable cause" in text_of(r) for r in roots()), what="the cause on every root")
    assert len(roots()) == len(storm)


def test_a_reopened_incident_is_diagnosed_again_and_resolves_into_a_new_draft_version(bot: Bot) -> None:
    slack = bot.slack
    bot.send(bot.event("incident.triggered", minutes=0))
    bot.send(bot.event("incident.resolved", minutes=30))
    incident_id = f"pd-{bot.incident_pd_id}"

    def versions() -> list[Any]:
        with bot.services.store.unit_of_work() as uow:
            return uow.postmortems.versions(incident_id)

    wait_until(lambda: len(versions()) == 1, what="the first draft", timeout=40)
    bot.send(bot.event("incident.reopened", minutes=45))
    bot.send(bot.event("incident.resolved", minutes=80, event_id="ev-resolved-again"))
    wait_until(lambda: len(versions()) == 2, what="a second draft version", timeout=60)
    with bot.services.store.unit_of_work() as uow:
        generations = sorted(j.payload["generation"] for j in uow.jobs.list(kind="diagnose_incident"))
    assert generations == [0, 1]
    notices = wait_until(lambda: [m for m in slack.messages.values() if "Postmortem draft v2" in text_of(m)],
                         what="the notice of v2", timeout=30)
    assert len(notices) == 1


def test_slash_diagnose_in_namespace_form_is_audited_and_answers_in_the_incident_thread(bot: Bot) -> None:
    slack = bot.slack
    bot.send(bot.event("incident.triggered", minutes=0))
    ts = wait_until(lambda: posts(slack) and root_ts(slack), what="the root message")
    wait_until(lambda: posts(slack, thread_ts=ts), what="the triggered diagnosis")
    before = len(posts(slack, thread_ts=ts))
    body = bot.kit.slash("prod/user-profile-service", response_url=slack.webhook("T1/slash/1"))
    acked = httpx.post(f"{bot.url}/slack/events", content=body, headers=bot.kit.sign(body), timeout=10)
    assert acked.status_code == 200 and "Diagnosing" in acked.text
    answer = wait_until(lambda: posts(slack, thread_ts=ts)[before:], what="the /diagnose answer in the thread",
                        timeout=60)
    assert "image-size-regression" in text_of(answer[-1])

    def audited() -> list[Any]:
        # The run is audited once its answer is out: the audit row may land just after the thread post.
        with bot.services.store.unit_of_work() as uow:
            return [r for r in uow.audit.list(target="prod/user-profile-service") if r.action == "slack.diagnose"]

    runs = wait_until(audited, what="the /diagnose audit record")
    assert len(runs) == 1 and runs[0].actor == "U0ONCALL" and runs[0].details["outcome"] == "ok"


def test_pagerduty_both_ways_note_buttons_and_enrichment(bot: Bot) -> None:
    slack, pd = bot.slack, bot.pd
    slack.users["U0LEAD"] = {"id": "U0LEAD", "profile": {"email": "alice@example.com"}}
    bot.send(bot.event("incident.triggered", minutes=0))
    note = pd.wait_for("POST", f"/incidents/{bot.incident_pd_id}/notes", timeout=40)[0]
    assert note.header("From") == "coroner@example.com" and "Probable cause: revision 5 (image 4.2 GB, 19.5× revision 4) →" in json.dumps(
        note.body, ensure_ascii=False)
    # The root offers Acknowledge and Resolve; a click calls PUT /incidents/{id} as the clicking person.
    wait_until(lambda: "coroner_pd_acknowledge" in text_of(current_root(slack)) and current_root(slack),
               what="the PagerDuty buttons on the root")
    message = {"ts": root_ts(slack), "channel": CHANNEL}
    value = json.dumps({"incident_id": f"pd-{bot.incident_pd_id}"})
    assert bot.click("coroner_pd_acknowledge", value, user="U0LEAD", message=message).status_code == 200
    put = pd.wait_for("PUT", f"/incidents/{bot.incident_pd_id}")[0]
    assert put.header("From") == "alice@example.com" and put.body["incident"]["status"] == "acknowledged"
    wait_until(lambda: slack.calls("/webhook/T1/U0LEAD/coroner_pd_acknowledge"), what="the confirmation")
    with bot.services.store.unit_of_work() as uow:
        assert [(r.actor, r.action) for r in uow.audit.list(target=f"pd-{bot.incident_pd_id}")] == [
            ("U0LEAD", "pagerduty.acknowledged")]
    # The draft's timeline holds who was notified and who acknowledged, from PagerDuty's log entries.
    bot.send(bot.event("incident.resolved", minutes=60))
    incident_id = f"pd-{bot.incident_pd_id}"

    def draft() -> str | None:
        with bot.services.store.unit_of_work() as uow:
            latest = uow.postmortems.latest(incident_id)
        return latest.body_markdown if latest else None

    body = wait_until(draft, what="the draft", timeout=40)
    assert "notified Alice by sms" in body and "Bob acknowledged" in body and "Evidence gap" not in body


def test_request_changes_opens_a_modal_and_the_comment_reaches_the_web_view(bot: Bot) -> None:
    slack = bot.slack
    bot.send(bot.event("incident.triggered", minutes=0))
    bot.send(bot.event("incident.resolved", minutes=30))
    notice = wait_until(lambda: [(ts, m) for (c, ts), m in slack.messages.items() if "coroner_pm_request_changes"
                                 in text_of(m)], what="the notice", timeout=40)[0]
    incident_id = f"pd-{bot.incident_pd_id}"
    message = {"ts": notice[0], "channel": CHANNEL, "thread_ts": notice[1].get("thread_ts")}
    value = json.dumps({"incident_id": incident_id, "version": 1})
    assert bot.click("coroner_pm_request_changes", value, user="U0LEAD", message=message).status_code == 200
    opened = wait_until(lambda: slack.calls("/api/views.open"), what="the modal")[0].body
    view = json.loads(opened["view"]) if isinstance(opened["view"], str) else opened["view"]
    # The reviewer types a comment and submits: Slack's view_submission, signed.
    view["state"] = {"values": {"comment": {"text": {"type": "plain_text_input",
                                                     "value": "Add the HPA <max> scale-ups to the timeline"}}}}
    payload = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": "U0LEAD"}, "view": view,
               "api_app_id": "A0001"}
    body = urlencode({"payload": json.dumps(payload)})
    assert httpx.post(f"{bot.url}/slack/events", content=body, headers=bot.kit.sign(body),
                      timeout=10).status_code == 200

    def changes_requested() -> bool:
        with slack.lock:
            return "`changes_requested`" in text_of(slack.messages[(CHANNEL, notice[0])])

    wait_until(changes_requested, what="the notice showing changes requested")
    page = httpx.get(bot.services.draft_url(incident_id), timeout=10)
    assert page.status_code == 200
    assert "Add the HPA &lt;max&gt; scale-ups to the timeline" in page.text
