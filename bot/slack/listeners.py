"""Listeners, one function per feature, registered explicitly by `create_slack_app`.

`/diagnose` lives in `bot.slack.diagnose_command`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.checks import rollout
from bot.ports import CoronerError
from bot.slack.blocks import ROLLBACK_ACTION_ID, SlackMessage, error_message
from bot.slack.mrkdwn import code, one_line

log = logging.getLogger(__name__)

# A Kubernetes object name (DNS-1123 subdomain). Anything else is refused before it reaches the cluster
# reader or a log line.
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")


def error_reply(doing: str, error: BaseException) -> SlackMessage:
    """What the person who asked reads when `doing` failed. A `CoronerError` is meant to be read as is
    (an unknown service, a forbidden API); anything else is a bug, reported without internals."""
    if isinstance(error, CoronerError):
        return error_message(f"Could not finish {doing}: {one_line(str(error))}")
    return error_message(
        f"Coroner hit an internal error while {doing} ({type(error).__name__}). The details are in the bot's logs.",
        emoji=":x:",
    )


def reply_with_error(respond: Respond, doing: str, error: BaseException) -> None:
    """The Slack error handler: the person who asked hears what went wrong, in words (ephemeral)."""
    if not isinstance(error, CoronerError):
        log.error("slack listener failed while %s", doing, exc_info=error)
    message = error_reply(doing, error)
    respond(text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=False)


def undo_command(request: Mapping[str, Any]) -> str:
    """The `kubectl rollout undo` equivalent of a rollback button's value; raises ValueError if forged."""
    revision = int(request["revision"])
    namespace, name = str(request.get("namespace")), str(request.get("name"))
    if revision < 1 or not NAME.match(namespace) or not NAME.match(name):
        raise ValueError("not a rollback target")
    context = request.get("context")
    return rollout.undo_command(namespace, name, revision,
                                context=context if isinstance(context, str) and NAME.match(context) else None)


def register_rollback_button(app: App) -> None:
    """The button is an offer, not an action: Coroner acknowledges it and says how to roll back."""

    def on_click(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        ack()
        try:
            command = undo_command(json.loads(action.get("value") or "{}"))
        except (ValueError, KeyError, TypeError):
            message = error_message("That rollback button does not name a valid revision.")
        else:
            message = error_message(
                f"Coroner does not roll back from Slack. To roll back, run {code(command)}", emoji=":rewind:"
            )
        respond(text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=False)

    app.action(ROLLBACK_ACTION_ID)(on_click)


def register_error_handler(app: App) -> None:
    def on_error(error: Exception, body: dict[str, Any], respond: Respond) -> None:
        if isinstance(body, dict) and body.get("response_url"):
            reply_with_error(respond, "handling your request", error)
        else:
            log.error("slack request failed", exc_info=error)

    app.error(on_error)
