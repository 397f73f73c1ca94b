"""The review of a postmortem draft: draft → in review → approved, each step written to the audit log.

A reviewer can ask for changes (draft or in review → changes_requested, with a comment stored in the
audit record next to the version), or send a draft back (in review → draft); the next version drafted
starts as a draft again. An approved postmortem is final.
"""

from __future__ import annotations

from bot.ports import CoronerError
from bot.store import NotFound, Store
from bot.store.records import PostmortemStatus, PostmortemVersion

ALLOWED: dict[PostmortemStatus, frozenset[PostmortemStatus]] = {
    PostmortemStatus.DRAFT: frozenset({PostmortemStatus.IN_REVIEW, PostmortemStatus.CHANGES_REQUESTED}),
    PostmortemStatus.IN_REVIEW: frozenset(
        {PostmortemStatus.APPROVED, PostmortemStatus.DRAFT, PostmortemStatus.CHANGES_REQUESTED}),
    PostmortemStatus.CHANGES_REQUESTED: frozenset({PostmortemStatus.DRAFT}),
    PostmortemStatus.APPROVED: frozenset(),
}


class ReviewError(CoronerError):
    """A status change the review flow does not allow, or a postmortem that does not exist."""


def version_of(store: Store, *, incident_id: str, version: int | None = None) -> PostmortemVersion:
    """The given version of the incident's postmortem, or its latest."""
    with store.unit_of_work() as uow:
        versions = uow.postmortems.versions(incident_id)
    if not versions:
        raise ReviewError(f"incident {incident_id} has no postmortem")
    if version is None:
        return max(versions, key=lambda v: v.version)
    for candidate in versions:
        if candidate.version == version:
            return candidate
    raise ReviewError(f"incident {incident_id} has no postmortem version {version} (latest is {max(v.version for v in versions)})")


def change_status(
    store: Store, *, incident_id: str, version: int, to: PostmortemStatus, actor: str, comment: str | None = None
) -> PostmortemVersion:
    """Move one version along the review; `comment` (a reviewer's request for changes) is audited with it."""
    current = version_of(store, incident_id=incident_id, version=version)
    if to not in ALLOWED[current.status]:
        raise ReviewError(
            f"postmortem v{version} of {incident_id} is {current.status.value}: it cannot become {to.value}"
        )
    with store.unit_of_work() as uow:
        try:
            changed = uow.postmortems.set_status(incident_id=incident_id, version=version, status=to)
        except NotFound as exc:
            raise ReviewError(str(exc)) from exc
        details = {"version": version, "from": current.status.value, "content_hash": current.content_hash}
        if comment:
            details["comment"] = comment
        uow.audit.record(actor=actor, action=f"postmortem.{to.value}", target=incident_id, details=details)
        uow.commit()
    return changed
