"""`PostGateDenial`: tell the service's Slack channel that the admission gate refused a change.

Queued in the same transaction as the denial's audit record, and posted by the workers like every other
Slack post: a Slack outage delays the message, it does not lose it. One post per admission review.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.codec import JobCommand

KIND = "post_gate_denial"


@dataclass(frozen=True)
class PostGateDenial(JobCommand):
    review_uid: str  # the AdmissionReview's request.uid
    kind: str  # Deployment | StatefulSet | DaemonSet
    namespace: str
    name: str
    user: str  # who applied the change (request.userInfo.username)
    reason: str  # the paragraph `kubectl apply` printed

    def dedupe_key(self) -> str:
        return f"{KIND}:{self.review_uid}"
