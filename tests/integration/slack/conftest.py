"""Fixtures over the Slack doubles in tests/doubles (the Web API over HTTP, Socket Mode over WebSocket)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.doubles.slack_socket import SlackSocketDouble, running_slack_socket
from tests.doubles.slack_web import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeDiagnosis,
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


@pytest.fixture
def kit() -> Any:
    """The helpers of tests/doubles/slack_web.py, as a fixture (kept so the test modules read the same)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        sign=sign, slash=slash_command_body, action=block_action_body, story=story_diagnosis,
        FakeDiagnosis=FakeDiagnosis, secret=SIGNING_SECRET, token=BOT_TOKEN,
    )


@pytest.fixture
def serve_asgi() -> Iterator[Callable[[Any], str]]:
    """Run ASGI apps under a real uvicorn on port 0; yields a starter that returns the base URL."""
    from bot.server import serving

    with contextlib.ExitStack() as stack:
        yield lambda asgi_app: stack.enter_context(serving(asgi_app, lifespan="off"))
