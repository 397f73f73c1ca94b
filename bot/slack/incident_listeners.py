"""Buttons on an incident's Slack messages: the postmortem review (Start review, Approve, Request changes
and its modal), PagerDuty's Acknowledge and Resolve, and the opt-in rollback. Each listener acks at once,
checks who clicked, does the action through `IncidentActions` (which audits it) and says what happened:
in place on the notice, in the thread, or ephemerally to the person when it was refused."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.lifecycle.actions import ActionRefused, IncidentActions
from bot.ports import CoronerError
from bot.slack.blocks import ROLLBACK_ACTION_ID, error_message
from bot.slack.incident_blocks import (
    ACK_ACTION_ID,
    APPROVE_ACTION_ID,
    REQUEST_CHANGES_ACTION_ID,
    REQUEST_CHANGES_CALLBACK_ID,
    RESOLVE_ACTION_ID,
    START_REVIEW_ACTION_ID,
    ReviewNotice,
    request_changes_modal,
    review_notice,
)
from bot.slack.listeners import NAME
from bot.slack.mrkdwn import code, one_line
from bot.slack.reviewers import Reviewers
from bot.store.records import PostmortemStatus

log = logging.getLogger(__name__)

_REVIEW_TARGET = {START_REVIEW_ACTION_ID: PostmortemStatus.IN_REVIEW, APPROVE_ACTION_ID: PostmortemStatus.APPROVED}
_PAGERDUTY_STATUS = {ACK_ACTION_ID: "acknowledged", RESOLVE_ACTION_ID: "resolved"}


def _say_privately(respond: Respond, text: str, emoji: str = ":no_entry:") -> None:
    message = error_message(text, emoji=emoji)
    respond(text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=False)


def _target(value: str | None) -> tuple[str, int]:
    """The (incident id, version) a review button names; ValueError if forged."""
    data = json.loads(value or "{}")
    incident_id, version = str(data["incident_id"]), int(data["version"])
    if not incident_id.startswith("pd-") or len(incident_id) > 64 or version < 1:
        raise ValueError("not a postmortem version")
    return incident_id, version


def _thread_of(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The channel and thread a clicked message belongs to (its own ts when it is a root)."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return channel, message.get("thread_ts") or container.get("thread_ts") or container.get("message_ts")


def register_incident_actions(
    app: App,
    *,
    actions: IncidentActions,
    reviewers: Reviewers,
    draft_url: Callable[[str], str | None],
    rollback_enabled: bool,
) -> None:
    def update_notice(client: WebClient, *, channel: str | None, ts: str | None, incident_id: str, version: int,
                      status: str, change: str) -> None:
        with actions.store.unit_of_work() as uow:
            incident = uow.incidents.get(incident_id)
        if channel is None or ts is None:
            return
        notice = review_notice(ReviewNotice(incident_id=incident_id, title=incident.title if incident else incident_id,
                                            version=version, status=status, url=draft_url(incident_id),
                                            last_change=change))
        try:
            client.chat_update(channel=channel, ts=ts, **notice.to_json())
        except (SlackApiError, SlackClientError) as exc:
            log.warning("review notice not updated in place: %s", exc, extra={"incident_id": incident_id})

    def on_review(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                  respond: Respond) -> None:
        ack()
        user = str(body["user"]["id"])
        try:
            incident_id, version = _target(action.get("value"))
        except (ValueError, KeyError, TypeError):
            _say_privately(respond, "That button does not name a postmortem version.")
            return
        to = _REVIEW_TARGET[action["action_id"]]
        if to is PostmortemStatus.APPROVED and not reviewers.allows(user):
            actions.refuse(actor=user, action="postmortem.approve", target=incident_id,
                           reason="not in CORONER_REVIEWERS")
            _say_privately(respond, "Only the reviewers named in `CORONER_REVIEWERS` can approve a postmortem.")
            return
        try:
            changed = actions.review(incident_id=incident_id, version=version, to=to, actor=user)
        except CoronerError as exc:
            _say_privately(respond, one_line(str(exc)), emoji=":warning:")
            return
        container = body.get("container") or {}
        update_notice(client, channel=container.get("channel_id"), ts=container.get("message_ts"),
                      incident_id=incident_id, version=version, status=changed.status.value,
                      change=f"{changed.status.value.replace('_', ' ')} by <@{user}>")

    def on_request_changes(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                           respond: Respond) -> None:
        ack()
        try:
            incident_id, version = _target(action.get("value"))
        except (ValueError, KeyError, TypeError):
            _say_privately(respond, "That button does not name a postmortem version.")
            return
        container = body.get("container") or {}
        client.views_open(trigger_id=body["trigger_id"], view=request_changes_modal(
            incident_id=incident_id, version=version, channel=container.get("channel_id"),
            message_ts=container.get("message_ts")))

    def on_changes_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = ((view.get("state") or {}).get("values") or {}).get("comment") or {}
        comment = ((values.get("text") or {}).get("value") or "").strip()
        if not comment:
            ack(response_action="errors", errors={"comment": "Say what should change in the draft."})
            return
        ack()
        user = str(body["user"]["id"])
        meta = json.loads(view.get("private_metadata") or "{}")
        try:
            incident_id, version = _target(json.dumps(meta))
            changed = actions.review(incident_id=incident_id, version=version,
                                     to=PostmortemStatus.CHANGES_REQUESTED, actor=user, comment=comment)
        except (ValueError, KeyError, TypeError, CoronerError) as exc:
            log.warning("request for changes not recorded: %s", exc)
            return
        update_notice(client, channel=meta.get("channel"), ts=meta.get("message_ts"), incident_id=incident_id,
                      version=version, status=changed.status.value, change=f"changes requested by <@{user}>")

    def on_pagerduty(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                     respond: Respond) -> None:
        ack()
        user = str(body["user"]["id"])
        status = _PAGERDUTY_STATUS[action["action_id"]]
        try:
            incident_id = str(json.loads(action.get("value") or "{}")["incident_id"])
            profile = (client.users_info(user=user).get("user") or {}).get("profile") or {}
            actions.set_pagerduty_status(incident_id=incident_id, status=status, actor=user,
                                         email=profile.get("email"))
        except (ValueError, KeyError, TypeError):
            _say_privately(respond, "That button does not name an incident.")
            return
        except (SlackApiError, SlackClientError) as exc:
            _say_privately(respond, f"Slack did not say who you are ({one_line(str(exc))[:200]}).", emoji=":warning:")
            return
        except CoronerError as exc:
            _say_privately(respond, f"PagerDuty was not changed: {one_line(str(exc))}", emoji=":warning:")
            return
        _say_privately(respond, f"Asked PagerDuty to mark the incident {status}.", emoji=":white_check_mark:")

    def on_rollback(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient,
                    respond: Respond) -> None:
        ack()
        user = str(body["user"]["id"])
        try:
            request = json.loads(action.get("value") or "{}")
            revision, namespace, name = int(request["revision"]), str(request["namespace"]), str(request["name"])
            if revision < 1 or not NAME.match(namespace) or not NAME.match(name):
                raise ValueError("not a rollback target")
        except (ValueError, KeyError, TypeError):
            _say_privately(respond, "That rollback button does not name a valid revision.")
            return
        context = request.get("context") if isinstance(request.get("context"), str) else None
        target = f"{namespace}/{name}"
        if not reviewers.allows(user):
            actions.refuse(actor=user, action="rollback", target=target, reason="not in CORONER_REVIEWERS")
            _say_privately(respond, "Only the reviewers named in `CORONER_REVIEWERS` can roll back.")
            return
        channel, thread_ts = _thread_of(body)

        def say(text: str) -> str | None:
            if channel is None:
                respond(text=text, response_type="in_channel", replace_original=False)
                return None
            return str(client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)["ts"])

        try:
            result, rollbacker = actions.rollback(incident_id=None, context=context, namespace=namespace,
                                                  name=name, revision=revision, actor=user)
        except ActionRefused as exc:
            _say_privately(respond, one_line(str(exc)), emoji=":warning:")
            return
        except CoronerError as exc:
            say(f":x: Rollback of {code(target)} to revision {revision} by <@{user}> failed: {one_line(str(exc))}")
            return
        say(f":rewind: <@{user}> rolled {code(target)} back to revision {revision} "
            f"({', '.join(code(i) for i in result.images)}): {one_line(result.message)}")
        def edit(ts: str, text: str) -> None:
            if channel is not None:
                client.chat_update(channel=channel, ts=ts, text=text)

        if not result.skipped:
            threading.Thread(target=_follow, args=(rollbacker, namespace, name, say, edit), daemon=True,
                             name=f"rollout-{name}").start()

    for action_id in _REVIEW_TARGET:
        app.action(action_id)(on_review)
    app.action(REQUEST_CHANGES_ACTION_ID)(on_request_changes)
    app.view(REQUEST_CHANGES_CALLBACK_ID)(on_changes_submitted)
    for action_id in _PAGERDUTY_STATUS:
        app.action(action_id)(on_pagerduty)
    if rollback_enabled:
        app.action(ROLLBACK_ACTION_ID)(on_rollback)


def _follow(rollbacker: Any, namespace: str, name: str, say: Callable[[str], str | None],
            edit: Callable[[str, str], None]) -> None:
    """The rollout's progress in one thread message, edited in place until done, failed or timed out."""
    ts: str | None = None
    try:
        for progress in rollbacker.wait_for_rollout(namespace=namespace, name=name, timeout=600, poll=2):
            mark = ":white_check_mark:" if progress.done else ":x:" if progress.failed else ":hourglass_flowing_sand:"
            text = f"{mark} {one_line(progress.message)}"
            if ts is None:
                ts = say(text)
            else:
                edit(ts, text)
    except (CoronerError, SlackApiError, SlackClientError) as exc:
        say(f":warning: Stopped following the rollout of {code(namespace + '/' + name)}: {one_line(str(exc))}")
