"""Action items: one per meaning, at most ten, with priority, kind, owner and the concrete change; hygiene
that did not contribute is one grouped item."""

from bot.domain import Finding, Severity
from bot.postmortem.actions import MAX_ITEMS
from bot.postmortem.view import build_view

HYGIENE = ("apt-no-install-recommends", "pip-cache", "runs-as-root", "shell-form-entrypoint", "no-healthcheck",
           "copy-without-link", "apt-lists-not-removed")


def test_meltdown_items_are_themes_not_findings(incident, timeline, findings, candidates, image, fix) -> None:
    lint = [Finding(rule, Severity.MEDIUM, f"{rule} title", {"line": 3}, f"fix {rule}", "dockerfile") for rule in HYGIENE]
    view = build_view(incident=incident, timeline=timeline, findings=[*findings, *lint], rollback_candidates=candidates,
                      image=image, dockerfile_fix=fix)
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
    same = [Finding("crashloop", Severity.HIGH, f"pod {i} crash-looping", {"pod": f"p{i}"}, "Fix the config map")
            for i in range(4)]
    view = build_view(incident=incident, timeline=[], findings=same)
    assert [(str(i.title), i.refs) for i in view.action_items] == [("Fix the config map", ("F1", "F2", "F3", "F4"))]
