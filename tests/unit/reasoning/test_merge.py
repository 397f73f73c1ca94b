"""One fact, one finding: the engine merges findings that state the same fact from two sources."""

from bot.domain import Finding, Severity
from bot.reasoning.merge import merge_same_facts


def f(rule, check, severity=Severity.MEDIUM, **evidence):
    return Finding(rule, severity, f"{rule} from {check}", evidence=evidence, remediation=f"fix {rule}", check=check)


def test_size_regression_from_the_autopsy_rides_on_the_rollouts_finding():
    rollout = f("image-size-regression", None, Severity.HIGH, current_revision=5, previous_revision=4)
    autopsy = f("size-regression", "image", Severity.CRITICAL, layer=1, growth_factor=19.5)
    other = f("fat-layer", "image")
    merged = merge_same_facts([autopsy, other, rollout])
    assert [x.rule for x in merged] == ["fat-layer", "image-size-regression"]
    kept = merged[1]
    assert kept.severity is Severity.CRITICAL  # the worse of the two
    assert kept.evidence["current_revision"] == 5
    assert kept.evidence["also"] == [{"rule": "size-regression", "check": "image", "title": "size-regression from image",
                                      "evidence": {"layer": 1, "growth_factor": 19.5}}]


def test_the_same_rule_from_the_dockerfile_and_the_image_is_one_finding():
    for rule in ("runs-as-root", "no-healthcheck"):
        merged = merge_same_facts([f(rule, "dockerfile", line=12), f(rule, "image", layer=7)])
        assert len(merged) == 1 and merged[0].check == "dockerfile"
        assert merged[0].evidence["also"][0]["check"] == "image"
        assert merged[0].evidence["also"][0]["evidence"] == {"layer": 7}


def test_the_same_rule_twice_from_one_source_is_two_facts():
    two = [f("runs-as-root", "dockerfile", line=3), f("runs-as-root", "dockerfile", line=9)]
    assert merge_same_facts(two) == two


def test_shell_form_absorbs_no_init_about_the_same_instruction_only():
    shell = f("shell-form-entrypoint", "dockerfile", line=20)
    same = f("no-init", "dockerfile", Severity.LOW, line=20)
    merged = merge_same_facts([shell, same])
    assert [x.rule for x in merged] == ["shell-form-entrypoint"] and merged[0].severity is Severity.MEDIUM
    elsewhere = f("no-init", "dockerfile", Severity.LOW, line=31)  # a script as PID 1 in exec form
    assert [x.rule for x in merge_same_facts([shell, elsewhere])] == ["shell-form-entrypoint", "no-init"]


def test_an_absorbed_finding_alone_stays_as_it_is():
    alone = [f("size-regression", "image"), f("no-init", "dockerfile")]
    assert merge_same_facts(alone) == alone
