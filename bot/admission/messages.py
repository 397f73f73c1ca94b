"""What a `kubectl apply` user reads in their terminal: the denial's paragraph and the warnings.

They render the gate's decisions (its reasons carry the culprit layers, the bytes and the nodes); nothing
is decided here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.admission.review import OVERRIDE_ANNOTATION, OVERRIDE_VALUE, ReviewRequest
from bot.deadline import DeadlineExceeded
from bot.printable import clip

if TYPE_CHECKING:
    from bot.admission.webhook import ImageVerdict

OVERRIDE_HINT = (f"Roll out anyway with the annotation `{OVERRIDE_ANNOTATION}: {OVERRIDE_VALUE}`, "
                 "recorded in the audit log.")
# kubectl prints the whole status message; the API server keeps warnings short (it truncates past 4 KiB in all).
MAX_MESSAGE = 2000
MAX_WARNING = 400


def _reasons(verdict: ImageVerdict) -> str:
    change = verdict.change
    against = f" against {change.previous}" if change.previous else ""
    listed = "; ".join(f"{r.code}: {r.message}" for r in verdict.decision.reasons)
    return f"{change.image}{against} ({'init ' if change.init else ''}container {change.container}): {listed}"


def denial_paragraph(review: ReviewRequest, failed: Sequence[ImageVerdict], undecided: Sequence[str]) -> str:
    body = " ".join(f"{_reasons(v)}." for v in failed)
    unread = f" Not judged: {'; '.join(undecided)}." if undecided else ""
    head = f"Coroner's gate denied this {review.workload.kind}: "
    room = MAX_MESSAGE - len(head) - len(unread) - len(OVERRIDE_HINT) - 2
    if len(body) > room:
        body = body[: max(room - 3, 0)] + "..."
    return f"{head}{body}{unread} {OVERRIDE_HINT}"


def warn_lines(review: ReviewRequest, failed: Sequence[ImageVerdict]) -> list[str]:
    lines = [_clip(f"coroner gate (warn mode, not denied): {_reasons(v)}") for v in failed]
    return lines + [_clip(f"coroner gate: in deny mode this change to {review.workload} would be refused")]


def fail_open_warning(undecided: Sequence[str]) -> str:
    return _clip("coroner gate could not judge this change and allowed it (fail-open): "
                 + "; ".join(undecided))


def no_answer(exc: DeadlineExceeded) -> str:
    """What the review gave up waiting for, in the fail-open warning: the service and the call."""
    if exc.waited_for is None:
        return str(exc)
    return f"no answer from {exc.waited_for} before the gate's deadline"


def override_warning(review: ReviewRequest) -> str:
    return _clip(f"coroner gate overridden by the annotation {OVERRIDE_ANNOTATION}={OVERRIDE_VALUE} on "
                 f"{review.workload}: recorded in the audit log. Remove the annotation so the next image is judged.")


def _clip(text: str) -> str:
    return clip(text, MAX_WARNING)
