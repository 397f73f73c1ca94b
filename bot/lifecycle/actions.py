"""What a person can do to an incident through the bot, whatever the chat surface: move its postmortem
along the review, acknowledge or resolve it in PagerDuty, roll its Deployment back. Each action is
audited with who did it; a refused one too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.cluster.rollback import RollbackResult
from bot.incidents.pagerduty_api import PagerDutyClient
from bot.ports import ClusterRollbacker, CoronerError
from bot.postmortem.review import change_status
from bot.store import Store
from bot.store.records import PostmortemStatus, PostmortemVersion

log = logging.getLogger(__name__)


class ActionRefused(CoronerError):
    """The person may not do this (not a reviewer), or it is not configured here."""


@dataclass
class IncidentActions:
    store: Store
    pagerduty: PagerDutyClient | None = None
    rollbacker_for: Callable[[str | None], ClusterRollbacker] | None = None

    def audit(self, *, actor: str, action: str, target: str, **details: Any) -> None:
        with self.store.unit_of_work() as uow:
            uow.audit.record(actor=actor, action=action, target=target, details=details)
            uow.commit()

    def refuse(self, *, actor: str, action: str, target: str, reason: str) -> ActionRefused:
        self.audit(actor=actor, action=f"{action}.refused", target=target, reason=reason)
        log.info("refused %s by %s on %s: %s", action, actor, target, reason)
        return ActionRefused(reason)

    def review(self, *, incident_id: str, version: int, to: PostmortemStatus, actor: str,
               comment: str | None = None) -> PostmortemVersion:
        """Approve from a draft walks through in_review, so both steps are in the audit log."""
        with self.store.unit_of_work() as uow:
            current = next((v for v in uow.postmortems.versions(incident_id) if v.version == version), None)
        if current is not None and to is PostmortemStatus.APPROVED and current.status is PostmortemStatus.DRAFT:
            change_status(self.store, incident_id=incident_id, version=version, to=PostmortemStatus.IN_REVIEW,
                          actor=actor)
        return change_status(self.store, incident_id=incident_id, version=version, to=to, actor=actor,
                             comment=comment)

    def set_pagerduty_status(self, *, incident_id: str, status: str, actor: str, email: str | None) -> None:
        with self.store.unit_of_work() as uow:
            incident = uow.incidents.get(incident_id)
        if self.pagerduty is None:
            raise ActionRefused("PagerDuty write-back is not configured (CORONER_PAGERDUTY_API_TOKEN)")
        if incident is None or incident.external_id is None:
            raise ActionRefused(f"incident {incident_id} is not a PagerDuty incident Coroner knows")
        if not email:
            raise self.refuse(actor=actor, action=f"pagerduty.{status}", target=incident_id,
                              reason="your Slack profile has no email PagerDuty could use as `From`")
        if status not in ("acknowledged", "resolved"):
            raise ActionRefused(f"{status} is not a PagerDuty status Coroner sets")
        self.pagerduty.set_status(incident.external_id, status=status,  # type: ignore[arg-type]
                                  from_email=email)
        self.audit(actor=actor, action=f"pagerduty.{status}", target=incident_id, email=email)

    def rollback(self, *, incident_id: str | None, context: str | None, namespace: str, name: str, revision: int,
                 actor: str) -> tuple[RollbackResult, ClusterRollbacker]:
        target = incident_id or f"{namespace}/{name}"
        if self.rollbacker_for is None:
            raise ActionRefused("rollbacks from Slack are off (CORONER_ROLLBACK_ENABLED)")
        rollbacker = self.rollbacker_for(context)
        try:
            result = rollbacker.rollback(namespace=namespace, name=name, to_revision=revision)
        except CoronerError as exc:
            self.audit(actor=actor, action="rollback.failed", target=target, namespace=namespace, name=name,
                       revision=revision, error=str(exc))
            raise
        self.audit(actor=actor, action="rollback", target=target, namespace=namespace, name=name,
                   revision=revision, from_revision=result.from_revision, images=list(result.images),
                   skipped=result.skipped)
        return result, rollbacker
