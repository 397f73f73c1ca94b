"""RUN commands are read as shell: operators, quoting, subshells, wrappers, `sh -c`, `set -e`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.dockerfile.shell import parse_script

SCRIPT = (
    "set -eux; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
    "\"gcc\" 'make' \\\n   && rm -rf /var/lib/apt/lists/* 2>&1 >/dev/null || (echo fail; exit 1) ; "
    "curl -fsSL https://x | sh -; sudo -u app pip install x; bash -c \"yum install -y a && yum clean all\"; "
    "echo \"a && b\" '|' $(date | tr a b)"
)


def test_commands_and_operators() -> None:
    s = parse_script(SCRIPT)
    assert s.errexit
    got = [(c.joined_by, c.depth, c.words[0]) for c in s.commands]
    assert got == [
        ("", 0, "set"), (";", 0, "apt-get"), ("&&", 0, "apt-get"), ("&&", 0, "rm"), ("||", 1, "echo"),
        (";", 1, "exit"), (";", 0, "curl"), ("|", 0, "sh"), (";", 0, "sudo"), (";", 0, "bash"),
        (";", 1, "yum"), ("&&", 1, "yum"), (";", 0, "echo"),
    ]


def test_quotes_assignments_redirects() -> None:
    s = parse_script(SCRIPT)
    install = s.commands[2]
    assert install.words == ("apt-get", "install", "-y", "--no-install-recommends", "gcc", "make")
    assert install.assignments == ("DEBIAN_FRONTEND=noninteractive",)
    assert s.commands[3].redirects == ("2>&1", ">/dev/null")
    assert s.commands[-1].words == ("echo", "a && b", "|", "$(date | tr a b)")


def test_unwrapped_and_options() -> None:
    s = parse_script(SCRIPT)
    assert s.commands[8].unwrapped().words == ("pip", "install", "x")
    assert s.find("pip")[0].name == "sudo"
    install = s.commands[2]
    assert install.has_option("-y") and install.has_option("--no-install-recommends")
    assert parse_script("apt-get -qy install x").commands[0].has_option("-y")
    assert install.positional() == ["install", "gcc", "make"]


def test_no_errexit_and_set_o() -> None:
    assert not parse_script("apt-get update; apt-get install x").errexit
    assert parse_script("set -o errexit\nx").errexit
    assert [c.joined_by for c in parse_script("a\nb\n\nc").commands] == ["", ";", ";"]


def test_unterminated_quotes_are_lenient() -> None:
    s = parse_script("echo 'abc && rm -rf x")
    assert s.commands[0].words == ("echo", "abc && rm -rf x")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \\'\"$()`|&;<>\n#-e{}")), max_size=60))
def test_fuzz_never_raises(text: str) -> None:
    parse_script(text)


def test_substitutions_are_the_scripts_of_dollar_paren_and_backticks() -> None:
    from bot.dockerfile.shell import substitutions

    assert substitutions('n="$(ls /d | wc -l)"') == ["ls /d | wc -l"]
    assert substitutions("v=`git describe`-$(date +%s)") == ["git describe", "date +%s"]
    assert substitutions("n=$((1 | 2))") == []
    assert substitutions("a=$(echo $(uname -m))") == ["echo $(uname -m)"]
