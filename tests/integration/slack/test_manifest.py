"""docs/slack.md's app manifests against the code: the command it names is the one the app answers, its
URLs are the route `serve` mounts, and its scopes cover every Web API method the code calls."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.slack.app import create_slack_app
from bot.slack.asgi import slack_routes
from tests.integration.slack.manifest import APP_TOKEN_SCOPES, WEB_API_SCOPES, app_manifest, bot_scopes

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "slack.md").read_text()


def doc_manifests() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)\n```", DOC, flags=re.S)
    return [m for m in map(yaml.safe_load, blocks) if isinstance(m, dict) and "display_information" in m]


@pytest.fixture(params=["http", "socket"])
def manifest(request) -> dict[str, Any]:
    socket_mode = request.param == "socket"
    found = [m for m in doc_manifests() if m["settings"]["socket_mode_enabled"] is socket_mode]
    assert len(found) == 1, f"docs/slack.md should show one {request.param} manifest"
    return found[0]


def web_client_methods() -> dict[str, str]:
    """WebClient's Web API methods by Python name (`chat_postMessage`) -> API name (`chat.postMessage`)."""
    return {name: name.replace("_", ".") for name, member in vars(WebClient).items()
            if inspect.isfunction(member) and not name.startswith("_") and "_" in name}


def web_api_calls_in_bot() -> set[str]:
    methods = web_client_methods()
    called = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                called.add(methods[node.func.attr])
    return called


def test_the_doc_shows_exactly_what_the_code_builds(manifest) -> None:
    socket_mode = manifest["settings"]["socket_mode_enabled"]
    assert manifest == app_manifest(public_url=None if socket_mode else "https://coroner.example.com")


@pytest.mark.slow  # drives every Slack path of serve's app
def test_every_web_api_method_the_code_calls_has_its_scopes_in_the_manifest(manifest) -> None:
    called = web_api_calls_in_bot()
    assert {"chat.postMessage", "auth.test"} <= called  # the walk finds real calls, it is not vacuous
    assert called <= set(WEB_API_SCOPES), f"add these to WEB_API_SCOPES: {called - set(WEB_API_SCOPES)}"
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    for method in called:
        assert set(WEB_API_SCOPES[method]) <= granted, method
    assert "commands" in granted and granted == set(bot_scopes())
    assert "connections:write" not in granted  # an app-level token scope, not a bot scope
    assert "connections:write" in DOC and APP_TOKEN_SCOPES == ("connections:write",)
    assert "event_subscriptions" not in manifest


def test_the_manifest_command_is_the_one_the_app_answers(manifest, slack_api, kit) -> None:
    [command] = manifest["features"]["slash_commands"]
    assert command["usage_hint"] == "[namespace/]service"
    app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **kit.collaborators(),
                           client=WebClient(token=kit.token, base_url=slack_api.api_url))
    body = kit.slash("user-profile-service", response_url=slack_api.webhook(), command=command["command"])
    response = app.dispatch(BoltRequest(body=body, headers=kit.sign(body)))
    assert response.status == 200
    assert json.loads(response.body)["text"] == "Diagnosing `user-profile-service`…"
    assert kit.answers(slack_api)[0]["text"] == "Diagnosis of user-profile-service: 1 critical, 1 high"

    other = kit.slash("user-profile-service", response_url=slack_api.webhook(), command="/not-ours")
    assert app.dispatch(BoltRequest(body=other, headers=kit.sign(other))).status == 404


def test_the_manifest_urls_are_the_route_serve_mounts(manifest, kit) -> None:
    urls = [c.get("url") for c in manifest["features"]["slash_commands"]]
    urls.append(manifest["settings"]["interactivity"].get("request_url"))
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    if manifest["settings"]["socket_mode_enabled"]:
        assert urls == [None, None]  # Slack dials nothing in Socket Mode
        return
    app = create_slack_app(signing_secret=kit.secret, bot_token=kit.token, **kit.collaborators(),
                           client=WebClient(token=kit.token, base_url="http://127.0.0.1:9/api/"))
    [route] = slack_routes(app)
    assert {urlsplit(u).path for u in urls} == {route.path}
    assert all(urlsplit(u).scheme == "https" for u in urls)
