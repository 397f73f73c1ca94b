"""Fixtures over the Slack doubles in tests/doubles (the Web API over HTTP, Socket Mode over WebSocket)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.doubles.slack_socket import SlackSocketDouble, running_slack_socket
from tests.doubles.slack_web import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackDouble,
    block_action_body,
    running_slack_web,
    sign,
    slash_command_body,
    story_diagnosis,
)


@pytest.fixture
def slack_api() -> Iterator[SlackDouble]:
    with running_slack_web() as double:
        yield double


@pytest.fixture
def slack_socket() -> Iterator[SlackSocketDouble]:
    with running_slack_socket() as double:
        yield double


def slash_collaborators(diagnose: Callable[..., Any] | None = None) -> dict[str, Any]:
    """`create_slack_app`'s `/diagnose` collaborators for tests that do not look at them: the story
    diagnosis (or `diagnose`), runs not recorded, no open incident."""
    return {
        "diagnose": diagnose or (lambda service, on_check_done: story_diagnosis(service.name)),
        "record_run": lambda run: None,
        "incident_thread_for": lambda service: None,
    }


def wait_for_answers(slack_api: SlackDouble, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The `/diagnose` answers so far: the channel messages that a diagnosis has replaced (`chat.update`)."""
    with slack_api.lock:
        def answers() -> list[dict[str, Any]]:
            return [r.body for r in slack_api.requests if r.path == "/api/chat.update"
                    and str(r.body.get("text", "")).startswith("Diagnosis of")]

        if not slack_api.lock.wait_for(lambda: len(answers()) >= count, timeout):
            raise AssertionError(f"{len(answers())} of {count} /diagnose answers; got {[r.path for r in slack_api.requests]}")
        return answers()


@pytest.fixture
def kit() -> Any:
    """The helpers of tests/doubles/slack_web.py, as a fixture (kept so the test modules read the same)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        sign=sign, slash=slash_command_body, action=block_action_body, story=story_diagnosis,
        secret=SIGNING_SECRET, token=BOT_TOKEN,
        collaborators=slash_collaborators, answers=wait_for_answers,
    )


@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    """Run ASGI apps under a real uvicorn on port 0; yields a starter that returns the base URL."""
    from bot.server import serving

    with contextlib.ExitStack() as stack:
        yield lambda asgi_app: stack.enter_context(serving(asgi_app, lifespan="off"))
class SlashHarness:
    """The Slack app under uvicorn with `/diagnose`'s collaborators as recorders:
    `start(diagnose=..., **create_slack_app options)` returns an httpx client on it (`create_app` only
    builds the app); `diagnosed` lists the
    services diagnosed, `runs` the `SlashRun`s handed to `record_run`, `incident_threads` maps a service
    name to its open incident's (channel, thread_ts)."""

    def __init__(self, slack_api: SlackDouble, serve: Callable[[Any], str]) -> None:
        self.slack_api, self._serve = slack_api, serve
        self.diagnosed: list[Any] = []
        self.runs: list[Any] = []
        self.incident_threads: dict[str, tuple[str, str]] = {}
        self._recorded = threading.Condition()

    def story(self, service: Any, on_check_done: Callable[[str, str], None]) -> Any:
        self.diagnosed.append(service)
        return story_diagnosis(service.name)

    def record_run(self, run: Any) -> None:
        with self._recorded:
            self.runs.append(run)
            self._recorded.notify_all()

    def incident_thread_for(self, service: Any) -> Any:
        from bot.slack.diagnose_command import IncidentThread

        found = self.incident_threads.get(service.name)
        return IncidentThread(*found) if found else None

    def create_app(self, diagnose: Any = None, **options: Any) -> Any:
        from slack_sdk import WebClient

        from bot.slack.app import create_slack_app

        collaborators: dict[str, Any] = {
            "diagnose": diagnose or self.story, "record_run": self.record_run,
            "incident_thread_for": self.incident_thread_for,
            "client": WebClient(token=BOT_TOKEN, base_url=self.slack_api.api_url),
        }
        return create_slack_app(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, **{**collaborators, **options})

    def start(self, diagnose: Any = None, **options: Any) -> Any:
        import httpx

        from bot.slack.asgi import slack_asgi_app

        return httpx.Client(base_url=self._serve(slack_asgi_app(self.create_app(diagnose, **options))), timeout=10)

    def command(self, client: Any, text: str, *, response_url: str | None = None, channel_id: str = "C0INC",
                **sign_args: Any) -> Any:
        body = slash_command_body(text, response_url=response_url or self.slack_api.webhook(), channel_id=channel_id)
        return client.post("/slack/events", content=body, headers=sign(body, **sign_args))

    def wait_runs(self, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The runs once `count` have been recorded: each run is recorded after its answer is out."""
        with self._recorded:
            if not self._recorded.wait_for(lambda: len(self.runs) >= count, timeout):
                raise AssertionError(f"{len(self.runs)} of {count} /diagnose runs recorded")
            return list(self.runs)

    def channel_messages(self, channel: str = "C0INC") -> list[dict[str, Any]]:
        """The messages of `channel` as they stand now (after every chat.update), oldest first."""
        with self.slack_api.lock:
            return [body for (where, _), body in sorted(self.slack_api.messages.items()) if where == channel]


@pytest.fixture
def slash(slack_api: SlackDouble, serve_asgi: Callable[[Any], str]) -> SlashHarness:
    return SlashHarness(slack_api, serve_asgi)
