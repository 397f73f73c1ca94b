import pytest

from bot.engine.playbook import PlaybookError, load_playbook, load_playbooks, parse_playbook, select_playbook
from bot.settings import packaged_dir


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_playbooks_load():
    books = load_playbooks(packaged_dir("playbooks"))
    assert {"diagnose", "pagerduty-triggered"} <= set(books)
    assert select_playbook(books, trigger="pagerduty:incident.triggered").name == "pagerduty-triggered"
    assert select_playbook(books).name == "diagnose"
    assert [s.check for s in books["diagnose"].steps] == [
        "nodes", "disk", "workload", "rollout", "neighbours", "hpa", "image", "dockerfile"
    ]


def test_unknown_check_names_file_field_and_closest(tmp_path):
    path = write(tmp_path, "bad.yaml", "name: bad\ntriggers: [diagnose]\nchecks:\n  - check: nodes\n  - check: dsik\n")
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    assert str(err.value) == f"{path}: checks[1].check: unknown check 'dsik' (did you mean disk?)"


def test_wrong_parameter_type_names_the_field(tmp_path):
    path = write(tmp_path, "p.yaml", "name: p\ntriggers: [diagnose]\nchecks:\n  - check: disk\n    params: {max_workers: lots}\n")
    with pytest.raises(PlaybookError, match=r"p\.yaml: checks\[0\]\.params\.max_workers: Input should be a valid integer"):
        load_playbook(path)


def test_unknown_parameter_is_an_error(tmp_path):
    path = write(tmp_path, "p.yaml", "name: p\ntriggers: [diagnose]\nchecks:\n  - check: disk\n    params: {warn_ratio: 0.8}\n")
    with pytest.raises(PlaybookError, match=r"checks\[0\]\.params\.warn_ratio: Extra inputs are not permitted"):
        load_playbook(path)


def test_yaml_error_gives_line(tmp_path):
    path = write(tmp_path, "p.yaml", "name: p\ntriggers: [diagnose\nchecks: []\n")
    with pytest.raises(PlaybookError, match=r"p\.yaml: not valid YAML at line \d+, column \d+"):
        load_playbook(path)


def test_bad_trigger_and_missing_checks(tmp_path):
    with pytest.raises(PlaybookError) as err:
        parse_playbook({"name": "x", "triggers": ["slack"]}, source="x.yaml")
    message = str(err.value)
    assert "x.yaml: triggers: Value error, unknown trigger 'slack'" in message
    assert "x.yaml: checks: Field required" in message


def test_directory_reports_every_bad_file_and_duplicate_names(tmp_path):
    write(tmp_path, "a.yaml", "name: same\ntriggers: [diagnose]\nchecks: [{check: nodes}]\n")
    write(tmp_path, "b.yaml", "name: same\ntriggers: [diagnose]\nchecks: [{check: nodes}]\n")
    write(tmp_path, "c.yaml", "name: c\ntriggers: [diagnose]\nchecks: [{check: nope}]\n")
    with pytest.raises(PlaybookError) as err:
        load_playbooks(tmp_path)
    assert "b.yaml: name: 'same' is already defined" in str(err.value)
    assert "c.yaml: checks[0].check: unknown check 'nope'" in str(err.value)


def test_unknown_playbook_name(tmp_path):
    books = load_playbooks(packaged_dir("playbooks"))
    with pytest.raises(PlaybookError, match="did you mean diagnose"):
        select_playbook(books, name="diagnos")
