"""Detection and response figures, computed from the stored timeline (Google SRE / PagerDuty postmortem
practice): time to detect (change -> page), to acknowledge (page -> ack), to mitigate (page -> rollback,
else recovery) and to resolve (page -> resolution). A figure whose ends are not both in the timeline is
missing, and says which end is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.render import timeline as tl


@dataclass(frozen=True)
class Figure:
    name: str  # "Time to detect"
    span: str  # "change → page"
    start: datetime | None
    end: datetime | None
    note: str | None = None  # how an end was chosen, or why the figure is missing

    @property
    def seconds(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return max(0, int((self.end - self.start).total_seconds()))


@dataclass(frozen=True)
class Response:
    change: tl.Moment | None
    first_symptom: tl.Moment | None
    page: tl.Moment | None
    ack: tl.Moment | None
    rollback: tl.Moment | None
    resolve: tl.Moment | None
    figures: tuple[Figure, ...]


def response(moments: Sequence[tl.Moment], *, resolved_at: datetime | None,
             change_implicated: bool = True) -> Response:
    """`moments` is the folded timeline (`bot.render.timeline.fold`); `resolved_at` the incident's own
    resolution time, used when the timeline has no resolve line. `change_implicated`: the diagnosis blamed
    the service's own rollout. When it did not (a neighbour, the nodes, nothing found), the last rollout is
    not the start of the incident: time to detect runs from the first symptom instead."""
    page = tl.first_of(moments, tl.PAGE)
    symptoms = [m for m in moments if m.kind == tl.EVENT and m.reason not in tl.ROUTINE_REASONS]
    first_symptom = symptoms[0] if symptoms else None
    onset = min((m.first for m in (first_symptom, page) if m is not None), default=None)
    change = None
    if onset is not None and change_implicated:
        change = next((m for m in reversed(moments) if m.kind == tl.DEPLOY and m.first <= onset), None)
    after = page.first if page is not None else None
    ack = tl.first_of(moments, tl.ACK, after=after)
    rollback = tl.first_of(moments, tl.ROLLBACK, after=change.first if change is not None else after)
    resolve = tl.first_of(moments, tl.RESOLVE, after=after)
    resolved = resolve.first if resolve is not None else resolved_at
    page_at = page.first if page is not None else None

    def missing(start: datetime | None, end: datetime | None, *, no_start: str, no_end: str) -> str | None:
        return no_start if start is None else (no_end if end is None else None)

    no_page = "no page in the timeline"
    change_at = change.first if change is not None else None
    ack_at = ack.first if ack is not None else None
    if change_implicated:
        detect = Figure("Time to detect", "change → page", change_at, page_at,
                        missing(change_at, page_at, no_start="no rollout before the first symptom", no_end=no_page))
    else:
        symptom_at = first_symptom.first if first_symptom is not None else None
        detect = Figure("Time to detect", "first symptom → page", symptom_at, page_at,
                        missing(symptom_at, page_at, no_start="no symptom in the timeline before the page",
                                no_end=no_page))
    figures = (
        detect,
        Figure("Time to acknowledge", "page → acknowledgement", page_at, ack_at,
               missing(page_at, ack_at, no_start=no_page, no_end="no acknowledgement in the timeline")),
        _mitigation(page_at, rollback, resolved),
        Figure("Time to resolve", "page → resolution", page_at, resolved,
               missing(page_at, resolved, no_start=no_page, no_end="not resolved yet")),
    )
    return Response(change, first_symptom, page, ack, rollback, resolve, figures)


def _mitigation(page: datetime | None, rollback: tl.Moment | None, resolved: datetime | None) -> Figure:
    if page is None:
        return Figure("Time to mitigate", "page → rollback or recovery", None, None, "no page in the timeline")
    if rollback is not None:
        return Figure("Time to mitigate", "page → rollback", page, rollback.first)
    if resolved is not None:
        return Figure("Time to mitigate", "page → recovery", page, resolved,
                      "no rollback was recorded: measured to the resolution")
    return Figure("Time to mitigate", "page → rollback or recovery", page, None, "no rollback or recovery yet")
