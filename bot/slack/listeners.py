"""Listeners, one function per feature, registered explicitly by `create_slack_app`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.checks import rollout
from bot.ports import CoronerError
from bot.slack.blocks import ROLLBACK_ACTION_ID, DiagnosisLike, diagnosis_message, error_message
from bot.slack.mrkdwn import code, one_line, truncate

log = logging.getLogger(__name__)

# A Kubernetes object name (DNS-1123 subdomain), optionally `namespace/name`. Anything else is refused
# before it reaches the cluster reader or a log line.
_NAME = r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?"
SERVICE = re.compile(rf"^(?:{_NAME}/)?{_NAME}$")
NAME = re.compile(rf"^{_NAME}$")


def parse_service(text: str | None) -> str | None:
    words = (text or "").split()
    return words[0] if len(words) == 1 and SERVICE.match(words[0]) else None


def usage(*, command: str, text: str | None) -> str:
    given = " ".join((text or "").split())
    if not given:
        return f"Usage: {code(command + ' SERVICE')}, for example {code(command + ' user-profile-service')}."
    return (
        f"{code(truncate(given, 100))} is not a service name: give one Kubernetes name such as "
        f"{code('user-profile-service')} or {code('prod/user-profile-service')}."
    )


def reply_with_error(respond: Respond, doing: str, error: BaseException) -> None:
    """The Slack error handler: the person who asked hears what went wrong, in words.

    A `CoronerError` is meant to be read as is (an unknown service, a forbidden API); anything else is
    a bug, logged with its traceback and reported without internals.
    """
    if isinstance(error, CoronerError):
        message = error_message(f"Could not finish {doing}: {one_line(str(error))}")
    else:
        log.error("slack listener failed while %s", doing, exc_info=error)
        message = error_message(
            f"Coroner hit an internal error while {doing} ({type(error).__name__}). The details are in the bot's logs.",
            emoji=":x:",
        )
    respond(text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=False)


def register_diagnose(
    app: App, *, diagnose: Callable[[str], DiagnosisLike], command: str, offer_rollback: bool
) -> None:
    def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
        service = parse_service(command.get("text"))
        if service is None:
            ack(text=usage(command=command["command"], text=command.get("text")), response_type="ephemeral")
            return
        ack(text=f"Diagnosing {code(service)}…", response_type="ephemeral")

    def run(command: dict[str, Any], respond: Respond) -> None:
        service = parse_service(command.get("text"))
        if service is None:
            return  # the ack already explained the usage
        try:
            message = diagnosis_message(diagnose(service), offer_rollback=offer_rollback)
        except Exception as exc:  # noqa: BLE001 - handed to the Slack error handler, never swallowed
            reply_with_error(respond, f"diagnosing {code(service)}", exc)
            return
        respond(text=message.text, blocks=message.blocks, response_type="in_channel", replace_original=False)

    app.command(command)(ack=acknowledge, lazy=[run])


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
