"""Action items: one per meaning, at most ten, with priority, kind, owner and the concrete change; hygiene
that did not contribute is one grouped item."""

from bot.domain import Finding, Severity
from bot.postmortem.actions import MAX_ITEMS
from bot.postmortem.view import build_view

HYGIENE = ("apt-no-install-recommends", "pip-cache", "runs-as-root", "shell-form-entrypoint", "no-healthcheck",
           "copy-without-link", "apt-lists-not-removed")


def test_meltdown_items_are_themes_not_findings(incident, timeline, findings, candidates, image, fix, cause,
                                                rollback) -> None:
    lint = [Finding(rule, Severity.MEDIUM, f"{rule} title", {"line": 3}, f"fix {rule}", "dockerfile") for rule in HYGIENE]
    view = build_view(incident=incident, timeline=timeline, findings=[*findings, *lint], rollback_candidates=candidates,
                      image=image, dockerfile_fix=fix, cause=cause, rollback=rollback)
    items = view.action_items
    assert len(items) <= MAX_ITEMS
    assert [i.priority for i in items] == sorted(i.priority for i in items)
    assert all(i.kind in ("prevent", "detect", "mitigate") and i.owner and i.change for i in items)
    # The three image findings are one item, and it points at the patch.
    (shrink,) = [i for i in items if "culprit layers" in i.title]
    assert shrink.priority == "P0" and "git apply" in shrink.change
    assert set(shrink.refs) == {fv.ref for fv in view.findings if fv.rule in ("fat-layer", "vcs-directory",
                                                                              "build-toolchain")}
    # Hygiene is one P2 item naming every rule, last.
    hygiene = items[-1]
    assert hygiene.priority == "P2" and all(f"`{rule}`" in hygiene.title for rule in HYGIENE)
    assert sum(1 for i in items if any(rule in i.title for rule in HYGIENE)) == 1


def test_an_unknown_incident_class_keeps_its_serious_advice_and_stays_within_ten(incident) -> None:
    serious = [Finding(f"rule-{i}", Severity.HIGH, f"problem {i}", {}, f"do thing {i}") for i in range(15)]
    view = build_view(incident=incident, timeline=[], findings=serious)
    assert len(view.action_items) == MAX_ITEMS
    assert all(i.priority == "P1" for i in view.action_items)


def test_the_same_advice_from_several_findings_is_one_item(incident) -> None:
    # A rule no theme answers for keeps its own advice, once for all its findings.
    same = [Finding("config-invalid", Severity.HIGH, f"pod {i} rejects its config", {"pod": f"p{i}"}, "Fix the config map")
            for i in range(4)]
    view = build_view(incident=incident, timeline=[], findings=same)
    assert [(str(i.title), i.refs) for i in view.action_items] == [("Fix the config map", ("F1", "F2", "F3", "F4"))]


def test_when_a_neighbour_is_the_cause_the_image_findings_are_hygiene_and_its_fix_is_the_p0(
        incident, timeline, findings, image, fix) -> None:
    """The same image findings, but the diagnosis blames another workload: the Dockerfile patch is offered
    as hygiene, the neighbour's own remediation leads, and no rollback or culprit layer is claimed."""
    from bot.domain import CauseLink, Confidence, ProbableCause, RollbackDecision

    neighbour = Finding("noisy-neighbour", Severity.HIGH, "batch/reindex takes 29 GB", {"workload": "batch/reindex"},
                        "Set resources.limits.memory on batch/reindex.", "neighbours")
    pressure = Finding("node-pressure", Severity.HIGH, "node-1 MemoryPressure",
                       {"node": "node-1", "condition": "MemoryPressure"}, None, "nodes")
    cause = ProbableCause("batch/reindex → MemoryPressure on 1 node", (
        CauseLink("trigger", "batch/reindex, no memory limit", ("noisy-neighbour",)),
        CauseLink("mechanism", "MemoryPressure on 1 node", ("node-pressure",))),
        supporting=("noisy-neighbour", "node-pressure"), ruled_out=(), confidence=Confidence.HIGH)
    decision = RollbackDecision(False, None, "revision 8 has been live 3 d")
    view = build_view(incident=incident, timeline=timeline, findings=[*findings, neighbour, pressure], image=image,
                      dockerfile_fix=fix, cause=cause, rollback=decision)
    items = view.action_items
    assert not [i for i in items if "culprit layers" in i.title or "rollout undo" in i.change]
    assert items[0].priority == "P0" and "batch/reindex" in items[0].title
    assert [str(i.title) for i in items if i.kind == "detect"][0] == "Page on node memory pressure"
    hygiene = items[-1]
    assert hygiene.priority == "P2" and all(f"`{r}`" in hygiene.title for r in ("fat-layer", "vcs-directory"))
    assert view.image is not None and view.image.culprits == ()
    assert view.fix is not None and view.fix.hygiene
    assert "culprit layers" not in view.summary and "batch/reindex" in view.summary


def _gap(rule: str, check: str, **evidence: object) -> Finding:
    return Finding(rule, Severity.LOW, f"{check}: {rule}", {"check": check, **evidence}, None, check)


def test_an_image_that_does_not_exist_is_no_blind_spot_but_stays_in_the_appendix(incident) -> None:
    missing = _gap("check-failed", "image", error="image reg/app:9 is not recorded", not_found=True)
    view = build_view(incident=incident, timeline=[], findings=[missing])
    assert not [i for i in view.action_items if i.title.startswith("Let the diagnosis see")]
    assert [f.rule for f in view.findings] == ["check-failed"]


def test_a_refusal_or_a_timeout_beside_it_is_a_blind_spot_citing_only_itself(incident) -> None:
    missing = _gap("check-failed", "image", error="image reg/app:9 is not recorded", not_found=True)
    refused = _gap("check-forbidden", "hpa", verb="list", resource="horizontalpodautoscalers")
    slow = _gap("check-timeout", "disk", timeout_seconds=10)
    unreadable = _gap("check-failed", "image", error="registry answered 503")
    for others in ([refused], [slow], [unreadable]):
        view = build_view(incident=incident, timeline=[], findings=[missing, *others])
        (item,) = [i for i in view.action_items if i.title.startswith("Let the diagnosis see")]
        cited = {f.ref: f for f in view.findings}
        assert item.priority == "P2" and [dict(cited[r].evidence).get("not_found") for r in item.refs] == [None], item
