"""The Slack app manifest an admin pastes at app creation (REFERENCE.md §5.2), as docs/slack.md shows it.

`WEB_API_SCOPES` is the one list of the Web API methods Coroner calls with the bot token and the
scopes each needs; a test walks bot/ for every WebClient method call and fails on one missing here,
and docs/slack.md's manifests must equal `app_manifest(...)`, so neither can drift from the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.asgi import SLACK_EVENTS_PATH

DIAGNOSE_COMMAND = "/diagnose"

# Web API method -> bot scopes. `chat:write.public` lets the bot post to a public incident channel
# (the catalog's `slack_channel`) without being invited first; private channels still need an invite.
WEB_API_SCOPES: Mapping[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write", "chat:write.public"),
    "chat.update": ("chat:write",),  # the live root message, the review notice's state, rollout progress
    "chat.postEphemeral": ("chat:write",),
    "views.open": (),  # the "Request changes" modal; interactivity needs no scope
    # The acting person's email (PagerDuty's `From`) and the reviewer groups of CORONER_REVIEWERS.
    "users.info": ("users:read", "users:read.email"),
    "usergroups.users.list": ("usergroups:read",),
}
# `/diagnose` itself needs `commands`; Socket Mode needs an app-level token with `connections:write`,
# which is not a bot scope and is created on the app's Basic Information page.
COMMAND_SCOPES: tuple[str, ...] = ("commands",)
APP_TOKEN_SCOPES: tuple[str, ...] = ("connections:write",)


def bot_scopes() -> list[str]:
    scopes = {*COMMAND_SCOPES, *(scope for needed in WEB_API_SCOPES.values() for scope in needed)}
    return sorted(scopes)


def app_manifest(*, public_url: str | None) -> dict[str, Any]:
    """The manifest for HTTP mode (`public_url`, where Slack reaches `serve`), or for Socket Mode
    (`public_url=None`: Slack needs no URL, the bot dials out)."""
    request_url = f"{public_url.rstrip('/')}{SLACK_EVENTS_PATH}" if public_url else None
    url = {"url": request_url} if request_url else {}
    command = {
        "command": DIAGNOSE_COMMAND,
        **url,
        "description": "Diagnose a Kubernetes service: nodes, disk, image, rollout",
        "usage_hint": "[namespace/]service",
        "should_escape": False,
    }
    interactivity = {"is_enabled": True, **({"request_url": request_url} if request_url else {})}
    return {
        "display_information": {
            "name": "Coroner",
            "description": "Diagnoses Kubernetes incidents and drafts the postmortem.",
            "background_color": "#2c2d30",
        },
        "features": {
            "bot_user": {"display_name": "coroner", "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }
