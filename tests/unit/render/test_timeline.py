"""The one folding of the timeline and the curated key moments, on incidents other than the demo's."""

from datetime import UTC, datetime, timedelta

from bot.domain import TimelineEntry
from bot.postmortem.response import response
from bot.render import timeline as tl


def at(hh: int, mm: int, ss: int = 0, *, day: int = 14) -> datetime:
    return datetime(2024, 5, day, hh, mm, ss, tzinfo=UTC)


def entry(when: datetime, source: str, text: str) -> TimelineEntry:
    return TimelineEntry(when, source, text, f"{source}:{when.isoformat()}:{text}")


def crashloop() -> list[TimelineEntry]:
    """A bad config rolled out, crash loops on three pods, a page, an ack from PagerDuty's log, a rollback."""
    rollout = "Deployment shop/cart revision {} rolled out (ReplicaSet cart-{}): image registry.example/cart:{}"
    return [
        entry(at(9, 0), "rollout", rollout.format(11, "a", "v11")),
        entry(at(10, 0), "rollout", rollout.format(12, "b", "v12")),
        entry(at(10, 0, 1), "kubernetes", "Deployment cart: ScalingReplicaSet: Scaled up replica set cart-b to 3"),
        *(entry(at(10, 1, i), "kubernetes",
                f"Pod cart-b-{i}: BackOff: Back-off restarting failed container app in pod cart-b-{i} (×{5 + i}, "
                f"last 10:2{i}:00)") for i in range(3)),
        entry(at(10, 2), "kubernetes", "Pod cart-b-0: Pulled: Container image already present on machine"),
        entry(at(10, 9), "pagerduty", "PagerDuty triggers. cart 5xx (P2, high urgency)"),
        entry(at(10, 9, 5), "pagerduty", "PagerDuty notified Alice by sms"),
        entry(at(10, 12), "pagerduty", "Alice acknowledged"),
        entry(at(10, 20), "rollout", rollout.format(13, "c", "v11")),
        entry(at(10, 25), "pagerduty", "PagerDuty resolves. cart 5xx [by Alice]"),
    ]


def test_the_same_event_on_several_pods_folds_into_one_line_with_count_and_range() -> None:
    moments = tl.fold(crashloop())
    backoff = [m for m in moments if m.reason == "BackOff"]
    assert len(backoff) == 1
    (line,) = backoff
    assert (line.count, line.subjects, line.first, line.last) == (18, 3, at(10, 1), at(10, 22))
    assert line.line == "3 pods: BackOff: Back-off restarting failed container app in pod <pod> (×18, 10:01:00–10:22:00)"


def test_a_rollout_back_to_an_earlier_image_is_a_rollback() -> None:
    kinds = [m.kind for m in tl.fold(crashloop()) if m.kind in (tl.DEPLOY, tl.ROLLBACK)]
    assert kinds == [tl.DEPLOY, tl.DEPLOY, tl.ROLLBACK]


def test_a_rollout_that_keeps_the_image_is_a_change_not_a_rollback() -> None:
    """A config-only revision (new args or env, the same image as the one before it) is the change; only a
    later return to that image after a different one is a rollback."""
    rollout = "Deployment jobs/worker revision {} rolled out (ReplicaSet worker-{}): image registry.example/worker:{}"
    entries = [entry(at(9, 0), "rollout", rollout.format(14, "a", "v1")),
               entry(at(10, 0), "rollout", rollout.format(15, "b", "v1")),
               entry(at(10, 30), "rollout", rollout.format(16, "c", "v2")),
               entry(at(11, 0), "rollout", rollout.format(17, "d", "v1"))]
    kinds = [m.kind for m in tl.fold(entries)]
    assert kinds == [tl.DEPLOY, tl.DEPLOY, tl.DEPLOY, tl.ROLLBACK]


def test_when_the_rollout_is_not_implicated_detection_runs_from_the_first_symptom() -> None:
    """A neighbour or the nodes broke the service: its last rollout (here the day before) is context,
    labelled as such, and time to detect is first symptom -> page, not a day-long "change -> page"."""
    old = [entry(at(10, 0, day=13), "rollout",
                 "Deployment shop/cart revision 12 rolled out (ReplicaSet cart-b): image registry.example/cart:v12")]
    moments = tl.fold(old + crashloop()[2:9])
    figures = {f.name: f for f in response(moments, resolved_at=None, change_implicated=False).figures}
    assert (figures["Time to detect"].span, figures["Time to detect"].seconds) == ("first symptom → page", 8 * 60)
    blamed = {f.name: f for f in response(moments, resolved_at=None).figures}
    assert blamed["Time to detect"].seconds == (24 * 60 + 9) * 60
    labels = {m.label for m in tl.curate(moments, change_implicated=False)}
    assert "Last rollout" in labels and "Change" not in labels


def test_the_curated_timeline_keeps_the_key_moments_in_order() -> None:
    curated = tl.curate(tl.fold(crashloop()))
    assert [(m.first, m.label) for m in curated] == [
        (at(10, 0), "Change"), (at(10, 1), "First symptom"), (at(10, 9), "Page"), (at(10, 12), "Acknowledged"),
        (at(10, 20), "Rollback"), (at(10, 25), "Resolved")]
    # The old rollout, the routine scale-up and pull, and PagerDuty's notification are left to the appendix.
    assert not any("revision 11" in m.text or "Pulled" in m.text or "notified" in m.text for m in curated)


def test_response_figures_from_the_timeline() -> None:
    figures = {f.name: f for f in response(tl.fold(crashloop()), resolved_at=None).figures}
    assert figures["Time to detect"].seconds == 9 * 60
    assert figures["Time to acknowledge"].seconds == 3 * 60
    assert (figures["Time to mitigate"].span, figures["Time to mitigate"].seconds) == ("page → rollback", 11 * 60)
    assert figures["Time to resolve"].seconds == 16 * 60
    assert all(f.note is None for f in figures.values())


def test_a_missing_end_is_shown_as_missing_with_the_reason() -> None:
    no_ack = [e for e in crashloop() if "acknowledged" not in e.text and "resolves" not in e.text]
    figures = {f.name: f for f in response(tl.fold(no_ack), resolved_at=None).figures}
    assert (figures["Time to acknowledge"].seconds, figures["Time to acknowledge"].note) == (
        None, "no acknowledgement in the timeline")
    assert figures["Time to resolve"].note == "not resolved yet"
    # Resolved in PagerDuty without a timeline line: the incident's own time is used.
    figures = {f.name: f for f in response(tl.fold(no_ack), resolved_at=at(11, 9)).figures}
    assert figures["Time to resolve"].seconds == 3600


def test_repeats_past_midnight_end_the_next_day() -> None:
    (m,) = tl.fold([entry(at(23, 59, day=14), "kubernetes", "Pod p: BackOff: Back-off restarting (×4, last 00:03:00)")])
    assert m.last == at(0, 3, day=15)


def test_node_conditions_fold_per_state_naming_the_first_node() -> None:
    nodes = [entry(at(2, 50 + i), "node", f"Node n{i} NotReady (KubeletNotReady: runtime down)") for i in (2, 1, 3)]
    (m,) = tl.fold(nodes)
    assert m.line == "3 nodes NotReady, first n1 (KubeletNotReady: runtime down) (02:51:00–02:53:00)"


def test_the_curated_timeline_never_exceeds_its_limit() -> None:
    many = [entry(at(3, 0) + timedelta(minutes=i), "node", f"Node n{i} {cond}")
            for i, cond in enumerate(["NotReady", "DiskPressure", "MemoryPressure", "PIDPressure", "NetworkUnavailable"]
                                     * 5)]
    events = [entry(at(3, 30) + timedelta(seconds=i), "kubernetes", f"Pod p{i}: {reason}: x")
              for i, reason in enumerate(["Evicted", "FailedScheduling", "OOMKilling", "BackOff", "Unhealthy",
                                          "ImageGCFailed", "Failed"])]
    curated = tl.curate(tl.fold([*crashloop(), *many, *events]), limit=tl.CURATED_MAX)
    assert len(curated) <= tl.CURATED_MAX
    assert [m.first for m in curated] == sorted(m.first for m in curated)


def test_unparsed_lines_pass_through_unfolded() -> None:
    lines = [entry(at(1, 0), "coroner", "Coroner finds x"), entry(at(1, 0), "coroner", "Coroner finds y")]
    assert [m.line for m in tl.fold(lines)] == ["Coroner finds x", "Coroner finds y"]


def test_one_changed_number_is_shown_as_a_range_several_are_not() -> None:
    hpa = [entry(at(2, 47 + i), "kubernetes", f"HorizontalPodAutoscaler web: SuccessfulRescale: New size: {n}; "
                                                 "reason: cpu above target") for i, n in enumerate((9, 14, 30))]
    pulls = [entry(at(2, 40 + i), "kubernetes", f"Pod p{i}: Pulled: Successfully pulled image in {m}m{s}s")
             for i, (m, s) in enumerate(((4, 12.5), (6, 48.2)))]
    lines = [m.line for m in tl.fold([*hpa, *pulls])]
    assert "HorizontalPodAutoscaler web: SuccessfulRescale: New size: 9 → 30; reason: cpu above target (×3, " \
           "02:47:00–02:49:00)" in lines
    assert "2 pods: Pulled: Successfully pulled image in 4m12.5s (×2, 02:40:00–02:41:00)" in lines
