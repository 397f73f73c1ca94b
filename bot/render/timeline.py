"""The one folding of the timeline: repeated events become one line with a count and a time range, and
the curated view keeps the 8-15 moments an incident review reads.

Entries are classified by what they are, from the words the timeline builders write (`bot.timeline`,
`bot.incidents`): a rollout, a node condition, a Kubernetes event with its reason, a PagerDuty event. The
rules are about kinds and reasons, never about one incident's objects, so an unseen outage folds the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import TimelineEntry
from bot.printable import clip
from bot.render.order import order_timeline, utc

# What a line is. `deploy` is a rollout; `rollback` a rollout back to an image that was live before.
DEPLOY, ROLLBACK, NODE, EVENT, PAGE, ACK, RESOLVE, PAGER, OTHER = (
    "deploy", "rollback", "node", "event", "page", "ack", "resolve", "pager", "other")

# Kubernetes event reasons that narrate normal operation: never a symptom, even when they repeat.
ROUTINE_REASONS = frozenset({
    "Scheduled", "Pulling", "Pulled", "Created", "Started", "SuccessfulCreate", "SuccessfulDelete", "Killing",
    "ScalingReplicaSet", "SuccessfulRescale", "NodeReady", "NodeSchedulable", "RegisteredNode", "Starting",
})

# Reasons that tell the story of a cluster incident, in the order a reviewer needs them when room is short:
# the registry failing, pods evicted or unschedulable, the autoscaler amplifying, crash loops and OOM kills,
# the kubelet failing to free disk. Pull back-offs only echo the pull failure, so they are not here.
# (Disk-freeing failures and eviction thresholds restate the node's pressure condition, so only the image
# GC failure stays: it says why the disk could not be freed.)
STORY_REASONS = ("registry", "Evicted", "FailedScheduling", "SuccessfulRescale", "OOMKilling", "BackOff",
                 "ImageGCFailed", "Failed", "Unhealthy")
# Echoes of a failure already told by another line (the pull failed -> ErrImagePull -> ImagePullBackOff).
_ECHO = re.compile(r"^(Error: (ErrImagePull|ImagePullBackOff)|Back-off pulling image)")
# A registry answering 5xx (or refusing connections) to a pull.
_REGISTRY = re.compile(r"(HTTP status: 5\d\d|\b5\d\d Service Unavailable|\b50[234]\b|connection refused|i/o timeout)")

CURATED_MAX = 15
LINE_MAX = 220
CURATED_LINE_MAX = 170

_EVENT = re.compile(
    r"^(?P<subject>\d+ \S+ \(.*?\)|\S+ \S+): (?P<reason>[A-Z][A-Za-z]+): (?P<message>.*?)"
    r"(?: \(×(?P<count>\d+)(?:, last (?P<last>\d\d:\d\d:\d\d))?\))?$"
)
_GROUP = re.compile(r"^(?P<n>\d+) (?P<plural>\S+) \((?P<names>.*)\)$")
_NODE = re.compile(r"^Node (?P<node>\S+) (?P<state>NotReady|Ready=Unknown|[A-Z][A-Za-z]+Pressure|NetworkUnavailable)"
                   r"(?: \((?P<why>.*)\))?$")
_ROLLOUT = re.compile(r"revision (?P<revision>\d+) rolled out.*?(?:: image (?P<image>\S+))?$")
_SHAPE = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Moment:
    """One line of the folded timeline: `count` occurrences of one kind of fact, from `first` to `last`,
    on `subjects` objects (pods, nodes). `text` is the line as every sink prints it."""

    kind: str
    first: datetime
    last: datetime
    text: str
    count: int = 1
    subjects: int = 1
    reason: str | None = None  # the event reason or node state; "registry" for a registry's 5xx
    label: str | None = None  # set by `curate`: "Deploy", "First symptom", "Page", ...

    @property
    def folded(self) -> bool:
        return self.count > 1 or self.subjects > 1

    @property
    def line(self) -> str:
        """The text with what was folded into it: `… (×21, 02:58:32–03:06:56)`."""
        span = f"{_clock(self.first)}–{_clock(self.last)}" if self.last > self.first else ""
        if self.count > 1:
            return f"{self.text} (×{self.count}" + (f", {span})" if span else ")")
        return f"{self.text} ({span})" if span and self.folded else self.text


@dataclass(frozen=True)
class _Parsed:
    entry: TimelineEntry
    kind: str
    reason: str | None = None
    shape: str = ""
    message: str = ""
    generic: str = ""  # the message with its own object's name blanked ("… in pod <pod>"), for folded lines
    subject_kind: str = ""
    names: frozenset[str] = frozenset()
    subjects: int = 1
    count: int = 1
    last: datetime | None = None
    image: str | None = None


def _parse(entry: TimelineEntry) -> _Parsed:
    text = " ".join(entry.text.split())
    if entry.source == "rollout":
        m = _ROLLOUT.search(text)
        return _Parsed(entry, DEPLOY, image=m.group("image") if m else None)
    if entry.source == "pagerduty":
        if text.startswith(("PagerDuty triggers.", "PagerDuty triggered", "PagerDuty reopens.")):
            return _Parsed(entry, PAGE)
        if re.search(r"\backnowledged\b", text) and "unacknowledged" not in text and "timed out" not in text:
            return _Parsed(entry, ACK)
        if text.startswith("PagerDuty resolves.") or text.endswith(" resolved"):
            return _Parsed(entry, RESOLVE)
        return _Parsed(entry, PAGER)
    if entry.source == "node" and (m := _NODE.match(text)):
        return _Parsed(entry, NODE, reason=m.group("state"), shape=m.group("state"), message=m.group("why") or "",
                       subject_kind="nodes", names=frozenset({m.group("node")}))
    if entry.source == "kubernetes" and (m := _EVENT.match(text)):
        message, reason = m.group("message"), m.group("reason")
        if reason not in ROUTINE_REASONS and _REGISTRY.search(message) and "pull" in message.lower():
            reason = "registry"
        subject, names, subjects, plural = m.group("subject"), frozenset[str](), 1, ""
        generic = message
        if g := _GROUP.match(subject):
            subjects, plural = int(g.group("n")), g.group("plural")
            listed = g.group("names")
            names = frozenset() if " more" in listed else frozenset(n.strip() for n in listed.split(","))
        else:
            kind_word, name = subject.split(" ", 1)
            names, plural = frozenset({name}), _plural(kind_word)
            # The same failure on twelve pods names each pod in its message: blanked, it is one shape.
            generic = message.replace(name, f"<{kind_word.lower()}>")
        last = None
        if m.group("last"):
            hh, mm, ss = (int(p) for p in m.group("last").split(":"))
            at = utc(entry.at)
            last = at.replace(hour=hh, minute=mm, second=ss)
            if last < at:  # the repeats ran past midnight
                last += timedelta(days=1)
        return _Parsed(entry, EVENT, reason=reason, shape=_SHAPE.sub("#", generic), message=message, generic=generic,
                       subject_kind=plural, names=names, subjects=max(subjects, len(names)),
                       count=int(m.group("count") or 1), last=last)
    return _Parsed(entry, OTHER)


def _plural(kind: str) -> str:
    return {"Pod": "pods", "Node": "nodes", "Deployment": "deployments",
            "HorizontalPodAutoscaler": "autoscalers"}.get(kind, kind.lower() + "s")


def fold(entries: Iterable[TimelineEntry]) -> list[Moment]:
    """The whole timeline, ordered once (`order_timeline`), with repeats folded: the same event reason and
    message shape (numbers blanked) on any number of objects, and the same node condition on several nodes,
    become one line at the first occurrence with the count and the range. Rollouts and pages never fold."""
    parsed = [_parse(e) for e in order_timeline(entries)]
    # A rollout back to an image that an earlier revision ran is a rollback. A rollout that keeps the
    # previous rollout's image changed something else (args, env, config): a change, not a rollback.
    seen_images: set[str] = set()
    previous: str | None = None
    for i, p in enumerate(parsed):
        if p.kind == DEPLOY and p.image:
            if p.image in seen_images and p.image != previous:
                parsed[i] = replace(p, kind=ROLLBACK)
            seen_images.add(p.image)
            previous = p.image
    groups: dict[tuple[str, str | None, str], list[_Parsed]] = {}
    order: list[tuple[str, str | None, str]] = []
    for p in parsed:
        key = (p.kind, p.reason, p.shape) if p.kind in (EVENT, NODE) else (p.kind, None, p.entry.key)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(p)
    return [_moment(groups[key]) for key in order]


def _moment(members: Sequence[_Parsed]) -> Moment:
    first = members[0]
    start = utc(first.entry.at)
    end = max(utc(p.last or p.entry.at) for p in members)
    count = sum(p.count for p in members)
    names = set().union(*(p.names for p in members))
    unnamed = sum(p.subjects for p in members if not p.names)
    subjects = len(names) + unnamed
    if len(members) == 1 and first.kind not in (EVENT, NODE):
        text = " ".join(first.entry.text.split())
    elif first.kind == NODE:
        shown = sorted(names, key=lambda n: (min(utc(p.entry.at) for p in members if n in p.names), n))
        why = f" ({first.message})" if first.message else ""
        if subjects == 1:
            text = f"Node {shown[0]} {first.reason}{why}"
        else:
            text = f"{subjects} nodes {first.reason}, first {shown[0]}{why}"
    else:
        who = _who(first, subjects, names)
        one = subjects == 1 and len(names) == 1
        message = _span_numbers(*((first.message, members[-1].message) if one else (first.generic, members[-1].generic)))
        if first.reason == "registry":
            # A Go error chain ends with the innermost error: "received unexpected HTTP status: 503 …".
            text = f"{who}: image pull failed: {': '.join(first.message.rsplit(': ', 2)[-2:])}"
        else:
            text = f"{who}: {first.reason}: {message}"
    # A node condition happens once per node: its count is the nodes, said in the text.
    return Moment(kind=first.kind, first=start, last=end, text=_cut(text), count=1 if first.kind == NODE else count,
                  subjects=max(subjects, 1), reason=first.reason)


def _span_numbers(first: str, last: str) -> str:
    """`New size: 9 → 30; reason: …`: the first message, with the one number that changed by the last shown
    as a range (the two have one shape, so their numbers pair up). When several changed (`4m12.5s` and
    `6m48.2s`), a range per number would garble the text: the first message is shown as it is."""
    a, b = _SHAPE.findall(first), _SHAPE.findall(last)
    if len(a) != len(b) or sum(x != y for x, y in zip(a, b, strict=True)) != 1:
        return first
    pieces = _SHAPE.split(first)
    out = [pieces[0]]
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        out.append(x if x == y else f"{x} → {y}")
        out.append(pieces[i + 1])
    return "".join(out)


def _who(first: _Parsed, subjects: int, names: set[str]) -> str:
    if subjects == 1 and len(names) == 1:
        kind = first.entry.text.split(" ", 1)[0]
        return f"{kind} {next(iter(names))}"
    return f"{subjects} {first.subject_kind}"


def _clock(at: datetime) -> str:
    return f"{at:%H:%M:%S}"


def _cut(text: str, limit: int = LINE_MAX) -> str:
    """Long lines keep their head and their count: `… (×21, 02:58:32–03:06:56)` is the folded fact."""
    if len(text) <= limit:
        return text
    tail = re.search(r" \((?:×\d+[^)]*|\d\d:\d\d:\d\d–\d\d:\d\d:\d\d)\)$", text)
    keep = tail.group(0) if tail else ""
    return clip(text, limit - len(keep) - 1, marker="").rstrip() + "…" + keep


def curate(moments: Sequence[Moment], *, limit: int = CURATED_MAX, change_implicated: bool = True) -> list[Moment]:
    """The key moments of an incident, at most `limit`, oldest first, each labelled:

    the change (the last rollout before the first symptom or the page; labelled "Last rollout" when the
    diagnosis did not implicate it, so the line does not read as the trigger) and any rollout after it, the first
    symptom, each node condition, the page, the first acknowledgement and the resolution always; then the
    event lines that tell the story (`STORY_REASONS`, one per reason, in that order) while room is left.
    Echoes of a line already kept (pull back-offs after a pull failure) and routine events are left out.
    """
    page = next((m for m in moments if m.kind == PAGE), None)
    symptoms = [m for m in moments if m.kind == EVENT and m.reason not in ROUTINE_REASONS]
    first_symptom = symptoms[0] if symptoms else None
    onset = min((m.first for m in (first_symptom, page) if m is not None), default=None)
    deploys = [m for m in moments if m.kind in (DEPLOY, ROLLBACK)]
    change = None
    if onset is not None:
        change = next((m for m in reversed(deploys) if m.kind == DEPLOY and m.first <= onset), None)
    chosen: dict[int, str] = {}

    def keep(moment: Moment | None, label: str) -> None:
        if moment is not None and id(moment) not in chosen:
            chosen[id(moment)] = label

    keep(change, "Change" if change_implicated else "Last rollout")
    keep(first_symptom, "First symptom")
    for m in moments:
        if m.kind == NODE:
            keep(m, f"Nodes {m.reason}" if m.subjects > 1 else f"Node {m.reason}")
        elif m.kind in (DEPLOY, ROLLBACK) and change is not None and m.first > change.first:
            keep(m, "Rollback" if m.kind == ROLLBACK else "Rollout")
    keep(page, "Page")
    keep(next((m for m in moments if m.kind == ACK), None), "Acknowledged")
    keep(next((m for m in moments if m.kind == RESOLVE), None), "Resolved")
    told = {m.reason for m in moments if id(m) in chosen}
    for reason in STORY_REASONS:
        if len(chosen) >= limit:
            break
        if reason in told:
            continue
        candidates = [m for m in moments if m.kind == EVENT and m.reason == reason and not _ECHO.match(_message(m))]
        if candidates:
            best = max(candidates, key=lambda m: (m.count, -m.first.timestamp()))
            keep(best, _LABELS.get(reason, reason))
            told.add(reason)
    kept = [replace(m, label=chosen[id(m)], text=_cut(m.text, CURATED_LINE_MAX)) for m in moments if id(m) in chosen]
    return kept[-limit:] if len(kept) > limit else kept


_LABELS = {"registry": "Registry errors", "Evicted": "Evictions", "FailedScheduling": "Pods unschedulable",
           "SuccessfulRescale": "Autoscaler", "OOMKilling": "OOM kills", "BackOff": "Crash loop",
           "ImageGCFailed": "Image GC failing", "Failed": "Failures", "Unhealthy": "Probes failing"}


def _message(moment: Moment) -> str:
    parts = moment.text.split(": ", 2)
    return parts[2] if len(parts) == 3 else moment.text


def first_of(moments: Sequence[Moment], kind: str, *, after: datetime | None = None) -> Moment | None:
    return next((m for m in moments if m.kind == kind and (after is None or m.first >= after)), None)
