"""The README is the user's contract: its commands and settings must match the code."""

import re
from pathlib import Path

from bot.cli import COMMANDS
from bot.settings import ENV_PREFIX, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_documented():
    documented = set(re.findall(r"`(CORONER_[A-Z_]+)`", README))
    expected = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    assert expected <= documented, expected - documented


def test_set_up_gives_exactly_the_two_commands():
    set_up = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", set_up, flags=re.S)
    assert commands == ["pip install . && coroner demo", "pip install -e '.[test]' && pytest"]


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "\npip install -e '.[test]' && pytest\n" in ci


def test_every_command_is_in_the_readme():
    for name in COMMANDS:
        assert f"`coroner {name}" in README, name


def test_the_shipped_scenarios_are_the_ones_listed():
    from bot.sim.scenario import shipped_scenarios

    listed = README.split("Shipped (`coroner sim --list`): ", 1)[1].split(";", 1)[0]
    assert re.findall(r"`([a-z-]+)`", listed) == shipped_scenarios()
