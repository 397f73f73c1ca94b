from click.testing import CliRunner

from bot.cli import main


def test_playbooks_check_lists_the_shipped_playbooks():
    result = CliRunner().invoke(main, ["playbooks", "check"])
    assert result.exit_code == 0, result.output
    assert "ok  diagnose" in result.output and "ok  pagerduty-triggered" in result.output


def test_playbooks_check_fails_naming_file_and_field(tmp_path):
    (tmp_path / "x.yaml").write_text("name: x\ntriggers: [diagnose]\nchecks:\n  - check: workload\n    params: {slow_pull_seconds: -1}\n")
    result = CliRunner().invoke(main, ["playbooks", "check", str(tmp_path)])
    assert result.exit_code == 2
    assert "x.yaml: checks[0].params.slow_pull_seconds: Input should be greater than 0" in result.output


def test_playbooks_check_empty_dir(tmp_path):
    result = CliRunner().invoke(main, ["playbooks", "check", str(tmp_path)])
    assert result.exit_code == 2 and "no playbooks" in result.output
