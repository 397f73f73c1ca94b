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


# A `case` pattern's `)` inside `$(…)` closes the pattern, not the substitution (POSIX 2.6.3; bash agrees).
ARCH_CASE = ('v=$(case "$arch" in amd64) echo x86_64;; arm64) echo aarch64;; esac) '
             "&& curl -fsSL https://x/a.tgz | tar -xz")


def test_case_pattern_paren_does_not_end_a_substitution() -> None:
    from bot.dockerfile.shell import substitutions

    s = parse_script(ARCH_CASE)
    assert [(c.joined_by, c.name) for c in s.commands] == [("", ""), ("&&", "curl"), ("|", "tar")]
    assert s.commands[0].assignments == ('v=$(case "$arch" in amd64) echo x86_64;; arm64) echo aarch64;; esac)',)
    assert substitutions(s.commands[0].assignments[0]) == [
        'case "$arch" in amd64) echo x86_64;; arm64) echo aarch64;; esac'
    ]


def test_case_forms_inside_a_substitution() -> None:
    from bot.dockerfile.shell import substitutions

    cases = {
        # the optional leading `(` of a pattern, and alternatives
        "$(case $x in (a|b) echo 1;; (*) echo 2;; esac)": "case $x in (a|b) echo 1;; (*) echo 2;; esac",
        # bash's `;&` and `;;&` terminators
        "$(case $x in a) echo 1;& b) echo 2;;& *) echo 3;; esac)": "case $x in a) echo 1;& b) echo 2;;& *) echo 3;; esac",
        # quoted and escaped parentheses are text
        "$(case \"$x\" in ')') echo \")\";; \\)) echo 'a)';; esac)": "case \"$x\" in ')') echo \")\";; \\)) echo 'a)';; esac",
        # the last clause needs no `;;`
        "$(case $x in a) echo 1;; *) echo 2\nesac)": "case $x in a) echo 1;; *) echo 2\nesac",
        # a case inside a case, and inside a subshell
        "$(case $a in x) case $b in y) echo z;; esac;; esac)": "case $a in x) case $b in y) echo z;; esac;; esac",
        "$( (case $a in x) echo y;; esac) )": " (case $a in x) echo y;; esac) ",
        # `case` as an argument is a word, not a keyword
        "$(echo case in a) b)": "echo case in a",
        # a comment's `)`, a double-quoted `)`, arithmetic, a heredoc body's `)`
        "$(echo a # )\n)": "echo a # )\n",
        '$(echo ")")': 'echo ")"',
        "$(echo $((1+(2))))": "echo $((1+(2)))",
        "$(cat <<EOF\n)\nEOF\n)": "cat <<EOF\n)\nEOF\n",
    }
    for word, script in cases.items():
        assert substitutions(word) == [script], word


def test_nested_substitution_with_case() -> None:
    from bot.dockerfile.shell import substitutions

    s = parse_script('A="$(echo $(case $x in a) echo b;; esac) c)" && make | tee log')
    assert [(c.joined_by, c.name) for c in s.commands] == [("", ""), ("&&", "make"), ("|", "tee")]
    assert substitutions(s.commands[0].assignments[0]) == ["echo $(case $x in a) echo b;; esac) c"]


def test_case_at_the_top_level_runs_its_bodies_not_its_patterns() -> None:
    s = parse_script('case "$(uname -m)" in x86_64) A=amd64 ;; (aarch64|arm64) A=arm64; echo arm ;& *) exit 1 ;;'
                     ' esac && (cd /x && case $y in z) make ;; esac) && curl -fsSL u | tar -xz')
    assert [(c.joined_by, c.depth, c.name) for c in s.commands] == [
        ("", 0, "case"), (";", 0, ""), (";", 0, ""), (";", 0, "echo"), (";", 0, "exit"),
        ("&&", 1, "cd"), ("&&", 1, "case"), (";", 1, "make"), ("&&", 0, "curl"), ("|", 0, "tar"),
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["case", "esac", "in", "a", ")", "(", ";;", ";&", ";;&", "|", "$(", "`", "'", '"',
                                 "<<EOF", "<<-'E'", "\n", "EOF", "\\", "#", "${x", "}", "&&", " "]), max_size=30))
def test_fuzz_case_and_heredoc_syntax_never_raises(parts: list[str]) -> None:
    from bot.dockerfile.shell import substitutions

    script = " ".join(parts)
    for command in parse_script(script).commands:
        for word in (*command.words, *command.assignments):
            for sub in substitutions(word):
                parse_script(sub)


def _project_runs() -> list[tuple[str, int, str]]:
    from bot.dockerfile.parser import parse
    from tests.dockerfile_buildkit import BUILDKIT
    from tests.dockerfile_judged import JUDGED
    from tests.dockerfile_unseen import UNSEEN

    texts = {**{k: v.text for k, v in JUDGED.items()}, **{k: v.text for k, v in BUILDKIT.items()}, **UNSEEN}
    return [(name, ins.line, ins.shell_script)
            for name, text in texts.items() for stage in parse(text).stages for ins in stage.shell_runs()]


def test_every_run_of_the_test_dockerfiles_reads_into_commands() -> None:
    runs = _project_runs()
    assert len(runs) > 100  # the three case files, not an empty selection
    for name, line, script in runs:
        commands = parse_script(script).commands
        has_command = any(ln.strip() and not ln.strip().startswith("#") for ln in script.splitlines())
        assert commands or not has_command, f"{name}:{line}"
        # A `)` ending a command's name is a case pattern or a substitution cut short.
        assert not [c.name for c in commands if c.name.endswith(")")], f"{name}:{line}"
