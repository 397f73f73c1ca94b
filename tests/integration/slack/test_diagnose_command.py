"""`/diagnose` end to end: really signed slash commands into the app under uvicorn, the Web API calls it
makes recorded by the Slack double (chat.postMessage, chat.update, response_url), and the collaborators
(`diagnose`, `record_run`, `incident_thread_for`) as recorders (the `slash` fixture)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.domain import Finding, Severity
from bot.engine.resolve import UnknownService
from bot.ports import ClusterForbidden
from bot.slack.diagnose_command import ServiceRef

pytestmark = pytest.mark.slow  # diagnoses on a slow simulated cluster

SERVICE = "user-profile-service"


def updates(slack_api) -> list[dict[str, Any]]:
    return [r.body for r in slack_api.calls("/api/chat.update")]


def test_diagnose_acks_then_posts_and_replaces_one_message_with_the_answer(slash, slack_api) -> None:
    client = slash.start()
    response = slash.command(client, SERVICE)
    assert response.status_code == 200
    assert response.json() == {"text": f"Diagnosing `{SERVICE}`…", "response_type": "ephemeral"}
    (run,) = slash.wait_runs()
    assert slash.diagnosed == [ServiceRef(None, SERVICE)]

    (posted,) = [r.body for r in slack_api.calls("/api/chat.postMessage")]
    assert posted["channel"] == "C0INC" and posted["text"] == f"Diagnosing {SERVICE}…"
    assert posted["blocks"][0]["text"]["text"] == f"Diagnosing `{SERVICE}`…"
    (message,) = slash.channel_messages()
    assert message["text"] == f"Diagnosis of {SERVICE}: 1 critical, 1 high"
    assert message["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": f"Diagnosis: {SERVICE}"}}
    text = json.dumps(message["blocks"])
    assert "imagefs 97% on node-3" in text and "bytes=1.8 GB" in text and "--to-revision=7" in text
    assert "coroner_rollback" not in text  # the rollback button is opt-in
    assert slack_api.calls("/webhook/") == []  # the answer is the channel message, not a second one


def test_namespace_and_name_reach_diagnose_as_a_service_ref(slash) -> None:
    client = slash.start()
    assert slash.command(client, " prod/user-profile-service ").json()["text"] == (
        "Diagnosing `prod/user-profile-service`…")
    (run,) = slash.wait_runs()
    assert slash.diagnosed == [ServiceRef("prod", SERVICE)]
    assert (run.service, run.namespace) == (SERVICE, "prod")


def test_each_finished_check_updates_the_message_in_order_and_the_answer_replaces_it(slash, slack_api) -> None:
    def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
        # Each step waits for its edit to land, so the throttle (one edit a second) drops none of them.
        for n, (check, status) in enumerate([("nodes", "ok"), ("disk", "ok"), ("hpa", "timeout")], 1):
            on_check_done(check, status)
            slack_api.wait_for("/api/chat.update", n)
        return slash.story(service, on_check_done)

    client = slash.start(diagnose)
    slash.command(client, SERVICE)
    slash.wait_runs()
    ((channel, ts),) = slack_api.messages
    edits = updates(slack_api)
    assert channel == "C0INC" and all((e["channel"], e["ts"]) == (channel, ts) for e in edits)
    assert [e["text"] for e in edits] == [
        f"Diagnosing {SERVICE}… nodes ✓",
        f"Diagnosing {SERVICE}… nodes ✓, disk ✓",
        f"Diagnosing {SERVICE}… nodes ✓, disk ✓, hpa ✗ timeout",
        f"Diagnosis of {SERVICE}: 1 critical, 1 high",
    ]
    assert edits[2]["blocks"][1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "`nodes` ✓ · `disk` ✓ · `hpa` ✗ timeout · …"}]}
    assert edits[-1]["blocks"][0]["type"] == "header"


class StepClock:
    """Each `now()` is one minute after the last."""

    def __init__(self) -> None:
        self.current = datetime(2024, 5, 14, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(minutes=1)
        return self.current


def test_the_run_records_who_where_when_and_the_result(slash) -> None:
    client = slash.start(clock=StepClock())
    slash.command(client, SERVICE)
    (run,) = slash.wait_runs()
    assert (run.user_id, run.user_name, run.channel_id) == ("U0ONCALL", "oncall", "C0INC")
    assert (run.service, run.namespace) == (SERVICE, None)
    assert (run.started_at, run.finished_at) == (datetime(2024, 5, 14, 3, 1, tzinfo=UTC),
                                                 datetime(2024, 5, 14, 3, 2, tzinfo=UTC))
    assert (run.outcome, run.summary, run.error) == ("ok", f"Diagnosis of {SERVICE}: 1 critical, 1 high", None)


@pytest.mark.parametrize(("error", "said"), [
    (UnknownService("user-profil-service", ["user-profile-service"], "all namespaces"),
     "unknown service 'user-profil-service': no catalog entry, Deployment, StatefulSet, DaemonSet or app label matches (all namespaces). "
     "Did you mean: user-profile-service?"),
    (ClusterForbidden("forbidden: needs get on deployments in namespace prod", verb="get", resource="deployments"),
     "forbidden: needs get on deployments in namespace prod"),
])
def test_a_diagnosis_that_fails_replaces_the_message_with_why_and_is_recorded(slash, error, said) -> None:
    def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
        raise error

    client = slash.start(diagnose)
    slash.command(client, "user-profil-service")
    (run,) = slash.wait_runs()
    (message,) = slash.channel_messages()
    assert message["text"] == f"Could not finish diagnosing `user-profil-service`: {said}"
    assert (run.outcome, run.summary, run.error) == ("failed", None, said)


def test_a_diagnosis_that_raises_is_reported_without_internals_and_recorded(slash, slack_api) -> None:
    def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
        raise RuntimeError("secret connection string postgres://u:pw@db")

    client = slash.start(diagnose)
    slash.command(client, SERVICE)
    (run,) = slash.wait_runs()
    (message,) = slash.channel_messages()
    assert message["text"] == (f"Coroner hit an internal error while diagnosing `{SERVICE}` (RuntimeError). "
                               "The details are in the bot's logs.")
    assert (run.outcome, run.error) == ("error", "internal error (RuntimeError)")
    assert not any("pw@db" in json.dumps(r.body) for r in slack_api.requests)



def test_a_run_the_store_cannot_record_is_logged_whole_and_the_next_command_still_runs(slash, caplog) -> None:
    from bot.store.db import StoreUnavailable

    tries: list[Any] = []

    def record_run(run: Any) -> None:
        tries.append(run)
        if len(tries) == 1:
            raise StoreUnavailable("record the run: the database is unavailable")
        slash.record_run(run)

    client = slash.start(record_run=record_run, diagnose_concurrency=1)  # one at a time: in order
    slash.command(client, "first-service")
    slash.command(client, SERVICE)
    (run,) = slash.wait_runs()
    assert run.service == SERVICE and [t.service for t in tries] == ["first-service", SERVICE]
    lost = [r for r in caplog.records if r.getMessage().startswith("could not record the /diagnose run")]
    assert [r.run for r in lost] == [tries[0]]  # type: ignore[attr-defined]
    assert tries[0].outcome == "ok"

def test_without_the_bot_in_the_channel_the_answer_goes_to_response_url(slash, slack_api) -> None:
    slack_api.channels_without_bot.add("C0PRIVATE")
    client = slash.start()
    response = slash.command(client, SERVICE, channel_id="C0PRIVATE", response_url=slack_api.webhook("private"))
    assert response.json()["text"] == f"Diagnosing `{SERVICE}`…"
    (run,) = slash.wait_runs()
    (answer,) = [r.body for r in slack_api.calls("/webhook/private")]
    assert answer["response_type"] == "in_channel" and answer["replace_original"] is False
    assert answer["text"] == f"Diagnosis of {SERVICE}: 1 critical, 1 high"
    assert slack_api.calls("/api/chat.update") == [] and slash.channel_messages("C0PRIVATE") == []
    assert (run.channel_id, run.outcome) == ("C0PRIVATE", "ok")


def test_without_the_bot_in_the_channel_an_error_goes_to_the_asker_alone(slash, slack_api) -> None:
    def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
        raise UnknownService("x", [], "all namespaces")

    slack_api.channels_without_bot.add("C0PRIVATE")
    client = slash.start(diagnose)
    slash.command(client, "x", channel_id="C0PRIVATE", response_url=slack_api.webhook("private"))
    slash.wait_runs()
    (answer,) = [r.body for r in slack_api.calls("/webhook/private")]
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == ("Could not finish diagnosing `x`: unknown service 'x': no catalog entry, Deployment, "
                              "StatefulSet, DaemonSet or app label matches (all namespaces).")


def test_a_message_deleted_meanwhile_still_gets_the_answer_through_response_url(slash, slack_api) -> None:
    def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
        with slack_api.lock:
            slack_api.messages.clear()  # someone deleted "Diagnosing…": chat.update says message_not_found
        return slash.story(service, on_check_done)

    client = slash.start(diagnose)
    slash.command(client, SERVICE, response_url=slack_api.webhook("deleted"))
    slash.wait_runs()
    (answer,) = [r.body for r in slack_api.calls("/webhook/deleted")]
    assert answer["text"] == f"Diagnosis of {SERVICE}: 1 critical, 1 high"


def test_with_an_open_incident_the_answer_is_also_posted_in_its_thread(slash, slack_api) -> None:
    slash.incident_threads[SERVICE] = ("C0OUTAGE", "1715655000.000100")
    client = slash.start()
    slash.command(client, SERVICE)
    slash.wait_runs()
    in_thread = [r.body for r in slack_api.calls("/api/chat.postMessage") if r.body.get("thread_ts")]
    assert [(p["channel"], p["thread_ts"], p["text"]) for p in in_thread] == [
        ("C0OUTAGE", "1715655000.000100", f"Diagnosis of {SERVICE}: 1 critical, 1 high")]
    (message,) = slash.channel_messages()
    assert in_thread[0]["blocks"] == message["blocks"]


def test_without_an_open_incident_nothing_is_posted_in_a_thread(slash, slack_api) -> None:
    slash.incident_threads["another-service"] = ("C0OUTAGE", "1715655000.000100")
    client = slash.start()
    slash.command(client, SERVICE)
    slash.wait_runs()
    assert not any(r.body.get("thread_ts") for r in slack_api.calls("/api/chat.postMessage"))


@pytest.mark.parametrize("text", ["", "  ", "<!channel> & <@U123>", "two words", "UPPER", "/name", "ns/", "a/b/c"])
def test_bad_service_text_gets_usage_and_nothing_runs(slash, slack_api, text) -> None:
    client = slash.start()
    response = slash.command(client, text)
    assert response.status_code == 200
    reply = response.json()["text"]
    assert "<!channel>" not in reply and "<@U123>" not in reply
    if text.strip():
        assert "is not a service name" in reply
    else:
        assert reply.startswith("Usage: `/diagnose SERVICE`")
    if "channel" in text:
        assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in reply
    # A valid command afterwards is the first run: the bad one started nothing.
    slash.command(client, SERVICE)
    (run,) = slash.wait_runs()
    assert run.service == SERVICE and slash.diagnosed == [ServiceRef(None, SERVICE)]
    assert len(slack_api.calls("/api/chat.postMessage")) == 1 and slack_api.calls("/webhook/") == []


def test_untrusted_finding_text_is_escaped(slash, slack_api, kit) -> None:
    hostile = [Finding("registry-errors", Severity.HIGH, "<!channel> pull failed & <@U123> <https://evil|x>",
                       {"message": "<!here> 503"})]
    client = slash.start(lambda service, on_check_done: kit.story(service.name, hostile))
    slash.command(client, SERVICE)
    slash.wait_runs()
    text = json.dumps(slash.channel_messages())
    for raw in ("<!channel>", "<@U123>", "<!here>", "<https://evil"):
        assert raw not in text
    assert "&lt;!channel&gt; pull failed &amp; &lt;@U123&gt;" in text


def test_200_findings_respect_block_limits(slash, kit) -> None:
    many = [Finding("node-disk-high", (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM)[i % 3],
                    f"imagefs {90 + i % 10}% on node-{i}", {"node": f"node-{i}", "bytes": 10**9 + i})
            for i in range(200)]
    client = slash.start(lambda service, on_check_done: kit.story(service.name, many), offer_rollback=True)
    slash.command(client, SERVICE)
    slash.wait_runs()
    (message,) = slash.channel_messages()
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert len(json.dumps(blocks)) <= 11_000
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    notes = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(n.startswith("… ") and "more findings not shown" in n for n in notes)
    assert blocks[-2]["block_id"] == "rollback_actions"  # the rollback offer survives the cut


def test_with_the_diagnosis_pool_saturated_further_commands_are_still_acked(slash, slack_api) -> None:
    """The design property behind "never misses Slack's 3 s": acks do not wait for a diagnosis thread.
    Before, acks and diagnoses shared bolt's 5 threads, and the 6th command here got a 404."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow(service: ServiceRef, on_check_done: Any) -> Any:
        started.release()
        assert release.wait(30), "the test never released the diagnoses"
        return slash.story(service, on_check_done)

    client = slash.start(slow, diagnose_concurrency=2)
    try:
        for n in range(2):
            assert slash.command(client, f"svc-{n}").status_code == 200
        for _ in range(2):
            assert started.acquire(timeout=10), "the pool did not start two diagnoses"
        # Both diagnosis threads are busy; eight more commands (more than bolt's old 5 threads) are acked.
        acks = [slash.command(client, f"svc-{n}") for n in range(2, 10)]
        assert [a.status_code for a in acks] == [200] * 8
        assert [a.json()["text"] for a in acks] == [
            f"Diagnosing `svc-{n}`… (queued behind {n} other diagnoses)" for n in range(2, 10)]
        # Every ack came back before any diagnosis finished.
        assert slash.runs == [] and updates(slack_api) == []
    finally:
        release.set()
    runs = slash.wait_runs(10, timeout=30)
    assert sorted(r.service for r in runs) == sorted(f"svc-{n}" for n in range(10))
    assert {r.outcome for r in runs} == {"ok"}


def test_slack_acks_do_not_wait_for_threads_held_by_other_routes(slash, slack_api, serve_asgi) -> None:
    """Starlette's `run_in_threadpool` shares anyio's default limiter (40 threads) among routes; the
    Slack route has its own, so 40 blocked requests elsewhere cannot hold Slack's acks back."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from bot.slack.asgi import slack_routes

    release, holding = threading.Event(), threading.Semaphore(0)

    def hold() -> None:
        holding.release()
        release.wait(30)

    async def held(request: Request) -> PlainTextResponse:
        await run_in_threadpool(hold)
        return PlainTextResponse("released")

    url = serve_asgi(Starlette(routes=[*slack_routes(slash.create_app()), Route("/held", held)]))
    default_threads = 40  # anyio's default thread limiter
    others = httpx.Client(base_url=url, timeout=40, limits=httpx.Limits(max_connections=default_threads))
    holders = [threading.Thread(target=others.get, args=("/held",)) for _ in range(default_threads)]
    try:
        for t in holders:
            t.start()
        for _ in range(default_threads):
            assert holding.acquire(timeout=20), "the other route did not take every default thread"
        with httpx.Client(base_url=url, timeout=10) as client:
            response = slash.command(client, SERVICE)
        assert response.status_code == 200 and response.json()["text"] == f"Diagnosing `{SERVICE}`…"
        assert slash.wait_runs()[0].outcome == "ok"
    finally:
        release.set()
        for t in holders:
            t.join(timeout=40)
        others.close()



def test_the_engine_on_a_slow_simulated_cluster_fills_the_checklist_then_answers(slash, slack_api, tmp_path) -> None:
    """The real path: the engine's `on_check_done` through the official kubernetes client to `chat.update`."""
    from bot.cluster.kubernetes_reader import KubernetesClusterReader
    from bot.engine.diagnose import diagnose as engine_diagnose
    from bot.engine.playbook import load_playbooks
    from bot.settings import packaged_dir
    from bot.sim.scenario import load_scenario
    from bot.sim.server import running_sim

    scenario = load_scenario("registry-meltdown")
    scenario.latency_ms = 600  # ≈ 2 s a diagnosis: long enough for a progress edit (one a second)
    playbook = load_playbooks(packaged_dir("playbooks"))["diagnose"]
    with running_sim(scenario) as sim:
        reader = KubernetesClusterReader.connect(sim.write_kubeconfig(tmp_path / "kubeconfig"), None)

        def diagnose(service: ServiceRef, on_check_done: Any) -> Any:
            return engine_diagnose(service.name, namespace=service.namespace, cluster=reader, playbook=playbook,
                                   on_check_done=on_check_done)

        client = slash.start(diagnose)
        slash.command(client, "prod/user-profile-service")
        (run,) = slash.wait_runs(timeout=60)
    *progress, final = [e["text"] for e in updates(slack_api)]
    assert final.startswith("Diagnosis of user-profile-service: ") and run.summary == final
    assert progress, "no progress edit during a 2 s diagnosis"
    steps = [step.check for step in playbook.steps]
    for text in progress:
        shown = [item.split(" ")[0] for item in text.removeprefix("Diagnosing prod/user-profile-service… ").split(", ")]
        assert shown == steps[: len(shown)], text  # the checks so far, in the playbook's order
