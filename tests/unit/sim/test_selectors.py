import pytest

from bot.sim.selectors import (
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

LABELS = {"app": "web", "tier": "front", "pod-template-hash": "7d9f8b6c5d"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (web,api)", True),
        ("app in (api, db)", False),
        ("app notin (api,db)", True),
        ("missing notin (a)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("app=web,tier in (front, back),!canary", True),
        ("app=web,tier=back", False),
        ("", True),
    ],
)
def test_label_selector_grammar(selector, expected):
    assert labels_match(parse_label_selector(selector), LABELS) is expected


def test_bad_label_selector_is_refused():
    with pytest.raises(SelectorError, match="unable to parse"):
        parse_label_selector("app in web")


def test_field_selector_on_supported_fields():
    pod = {"metadata": {"name": "p1"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    fields = supported_fields("pods")
    assert fields_match(parse_field_selector("spec.nodeName=n1,status.phase!=Failed", fields), pod)
    assert not fields_match(parse_field_selector("status.phase=Pending", fields), pod)
    assert fields_match(parse_field_selector("metadata.name==p1", fields), pod)
    # An absent field compares as the empty string, as on the API server.
    assert fields_match(parse_field_selector("spec.nodeName=", fields), {"metadata": {"name": "x"}})


def test_unsupported_field_uses_the_api_server_wording():
    with pytest.raises(SelectorError, match="field label not supported: spec.containers"):
        parse_field_selector("spec.containers=x", supported_fields("pods"))
