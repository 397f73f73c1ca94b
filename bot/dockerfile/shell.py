"""A small POSIX-shell reader for RUN commands.

Rules need to know which commands a RUN executes and how they are joined (`&&`, `||`, `;`, `|`), not to
run them. So this tokenizes quoting, `$(...)`, backticks, redirections, comments and line continuations,
and splits the script into simple commands; a `case`'s patterns are not commands, and a pattern's `)`
closes neither a subshell nor a `$(…)`. It never raises: an unterminated quote ends at the end of
the script, as a lenient reader should (BuildKit does not validate the shell either).
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from functools import cached_property

_OPERATORS = ("&&", "||", ";;&", ";;", ";&", ";", "|", "&", "(", ")", "\n")
# Reserved words that can precede a command without being the command.
_PREFIX_WORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "fi", "done"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"^[0-9]*(>>|>&|<&|<<-|<<<|<<|<>|>\||>|<)")
_WRAPPERS = frozenset({"sudo", "env", "nice", "nohup", "exec", "command", "time", "gosu", "su-exec", "xargs"})
# A run of characters that are taken literally inside a word: consumed at once, not one by one.
_PLAIN = re.compile(r"[^\s;&|()\\'\"$`]+")


@dataclass(frozen=True)
class Token:
    text: str  # quotes removed
    raw: str  # as written
    operator: bool = False


@dataclass(frozen=True)
class Command:
    """One simple command. `joined_by` is the operator that came before it ("" for the first)."""

    words: tuple[str, ...]  # quotes removed, assignments and redirections excluded
    raw: str
    joined_by: str = ""
    depth: int = 0  # subshell nesting
    assignments: tuple[str, ...] = ()
    redirects: tuple[str, ...] = ()

    @cached_property
    def name(self) -> str:
        return self.words[0].rsplit("/", 1)[-1] if self.words else ""

    def unwrapped(self) -> Command:
        """The command with `sudo`, `env VAR=x` and similar wrappers peeled off."""
        return self._unwrapped

    @cached_property
    def _unwrapped(self) -> Command:  # rules ask for it several times per command: peel once
        words = list(self.words)
        while words and words[0].rsplit("/", 1)[-1] in _WRAPPERS:
            wrapper = words.pop(0).rsplit("/", 1)[-1]
            while words and (words[0].startswith("-") or (wrapper == "env" and _ASSIGNMENT.match(words[0]))):
                opt = words.pop(0)
                if wrapper == "sudo" and opt in ("-u", "-g") and words:
                    words.pop(0)
            if wrapper in ("gosu", "su-exec") and words:
                words.pop(0)  # the user
        return Command(tuple(words), self.raw, self.joined_by, self.depth, self.assignments, self.redirects)

    def has_option(self, *options: str) -> bool:
        """True when any word equals one of the options, or is a short-option cluster that holds it (`-yq`)."""
        for w in self.words[1:]:
            if w in options:
                return True
            for o in options:
                if (len(o) == 2 and o[0] == "-" and o[1] != "-" and w.startswith("-") and not w.startswith("--")
                        and o[1] in w[1:]):
                    return True
                if o.startswith("--") and w.startswith(o + "="):
                    return True
        return False

    def positional(self) -> list[str]:
        """Non-option words after the command name (an `-o X`-style option's value is skipped for apt)."""
        return positional_words(self.words[1:], _COMMON_VALUE_OPTIONS)


_COMMON_VALUE_OPTIONS = frozenset(
    {"-o", "-c", "-t", "--option", "--target-release", "-r", "--requirement", "-e", "-f", "-i"}
)


def positional_words(args: Sequence[str], value_options: Container[str]) -> list[str]:
    """The words of `args` that are not options, nor the value of an option in `value_options`."""
    out: list[str] = []
    skip = False
    for w in args:
        if skip:
            skip = False
            continue
        if w in value_options:
            skip = True
            continue
        if w.startswith("-"):
            continue
        out.append(w)
    return out


@dataclass(frozen=True)
class Script:
    commands: tuple[Command, ...]
    errexit: bool  # `set -e` (or -o errexit) is in effect from the start

    def find(self, *names: str) -> list[Command]:
        return [c for c in self.commands if c.unwrapped().name in names]


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None) if c in ";&|()\n" else None
        if op is not None:
            tokens.append(Token(";" if op == "\n" else op, op, operator=True))
            i += len(op)
            continue
        start = i
        out: list[str] = []
        while i < n:
            plain = _PLAIN.match(text, i)
            if plain is not None:
                out.append(plain.group())
                i = plain.end()
                continue
            c = text[i]
            if c in " \t\r\n" or (c in ";&|()" and not _redirect_amp(text, i, out)):
                break
            if c == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    continue
                if i + 1 < n:
                    out.append(text[i + 1])
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                end = n if end < 0 else end
                out.append(text[i + 1 : end])
                i = end + 1
            elif c == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                        if text[i + 1] != "\n":
                            out.append(text[i + 1])
                        i += 2
                    elif text.startswith("$(", i):
                        j = _matching_paren(text, i + 1)
                        out.append(text[i:j])
                        i = j
                    else:
                        out.append(text[i])
                        i += 1
                i += 1
            elif text.startswith("$(", i):
                j = _matching_paren(text, i + 1)
                out.append(text[i:j])
                i = j
            elif c == "`":
                end = text.find("`", i + 1)
                end = n if end < 0 else end + 1
                out.append(text[i:end])
                i = end
            else:
                out.append(c)
                i += 1
        tokens.append(Token("".join(out), text[start:i]))
    return tokens


def _redirect_amp(text: str, i: int, out: list[str]) -> bool:
    """`2>&1` and `>&2` keep their `&` inside the word."""
    return text[i] == "&" and bool(out) and out[-1].endswith(("<", ">"))


def _matching_paren(text: str, i: int) -> int:
    """Index just past the `)` that closes the `(` at i. `$((…))` arithmetic is counted as parentheses;
    a command substitution's script is read as shell, so that quotes, comments, heredoc bodies and a `case`
    pattern's `)` (`$(case $a in x) …;; esac)`) do not close it early."""
    if text.startswith("((", i):
        return _arithmetic_end(text, i)
    return _SubstitutionScanner(text).close(i + 1)


def _arithmetic_end(text: str, i: int) -> int:
    depth, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


_WORD_DELIMITERS = frozenset(" \t\r\n;&|()<>")
_HEREDOC_OPERATOR = re.compile(r"<<(-?)[ \t]*")
_CASE_TERMINATORS = (";;&", ";;", ";&")


class _SubstitutionScanner:
    """Finds where a `$(` or `(` ends. The case state is a stack of frames: "(" for a nested subshell, and for a
    `case`: "subject" (its word), "in", "pattern" (until the pattern's `)`), "body" (until `;;`, `;&`,
    `;;&` or `esac`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)

    def close(self, i: int) -> int:
        text, n = self.text, self.n
        stack: list[str] = []
        command_start = True
        heredocs: list[tuple[str, bool]] = []
        while i < n:
            c = text[i]
            if c in " \t\r" or text.startswith("\\\n", i):
                i += 1 if c != "\\" else 2
            elif c == "\n":
                i = self._heredoc_bodies(i + 1, heredocs)
                heredocs = []
                command_start = command_start or not stack or stack[-1] in ("(", "body")
            elif c == "#":
                while i < n and text[i] != "\n":
                    i += 1
            elif c == ")":
                i += 1
                if stack and stack[-1] == "pattern":
                    stack[-1], command_start = "body", True
                    continue
                while stack and stack[-1] != "(":
                    stack.pop()  # an unfinished case: the `)` still closes what it can
                if not stack:
                    return i
                stack.pop()
                command_start = False
            elif c == "(":
                i += 1
                if not (stack and stack[-1] == "pattern"):  # else the optional `(` before a pattern
                    stack.append("(")
                    command_start = True
            elif c in ";&|":
                op = next((t for t in _CASE_TERMINATORS if text.startswith(t, i)), None)
                if op is not None and stack and stack[-1] == "body":
                    stack[-1] = "pattern"
                i += len(op) if op else (2 if text[i : i + 2] in ("&&", "||") else 1)
                command_start = True
            elif c in "<>":
                heredoc = _HEREDOC_OPERATOR.match(text, i) if not text.startswith("<<<", i) else None
                if heredoc is None:
                    i += 1
                    while i < n and text[i] in "<>&|-":
                        i += 1
                    continue
                start = heredoc.end()
                i = self._word_end(start)
                delimiter = re.sub(r"[\\'\"]", "", text[start:i])
                if delimiter:
                    heredocs.append((delimiter, heredoc.group(1) == "-"))
            else:
                start = i
                i = self._word_end(i)
                command_start = self._word(text[start:i], stack, command_start)
        return n

    @staticmethod
    def _word(word: str, stack: list[str], command_start: bool) -> bool:
        """Advances the case state on one word; returns whether the next word starts a command."""
        top = stack[-1] if stack else "("
        if top == "subject":
            stack[-1] = "in"
        elif top == "in":
            stack[-1] = "pattern"  # `in`, or a malformed case: read patterns from here either way
        elif top == "pattern" and word == "esac":
            stack.pop()
        elif top == "pattern":
            pass
        elif command_start and word == "case":
            stack.append("subject")
        elif command_start and word == "esac" and top == "body":
            stack.pop()
        else:
            return command_start and word in _PREFIX_WORDS
        return False

    def _word_end(self, i: int) -> int:
        """Index just past the word that starts at i: quotes, escapes and nested expansions are inside it."""
        text, n = self.text, self.n
        while i < n and text[i] not in _WORD_DELIMITERS:
            c = text[i]
            if c == "\\":
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                i = n if end < 0 else end + 1
            elif c == '"':
                i = self._double_quoted_end(i + 1)
            elif c == "`":
                i = self._backtick_end(i + 1)
            elif text.startswith("$(", i):
                i = _matching_paren(text, i + 1)
            elif text.startswith("${", i):
                i = self._brace_end(i + 2)
            else:
                i += 1
        return min(i, n)

    def _double_quoted_end(self, i: int) -> int:
        text, n = self.text, self.n
        while i < n and text[i] != '"':
            if text[i] == "\\":
                i += 2
            elif text[i] == "`":
                i = self._backtick_end(i + 1)
            elif text.startswith("$(", i):
                i = _matching_paren(text, i + 1)
            elif text.startswith("${", i):
                i = self._brace_end(i + 2)
            else:
                i += 1
        return i + 1

    def _backtick_end(self, i: int) -> int:
        text, n = self.text, self.n
        while i < n and text[i] != "`":
            i += 2 if text[i] == "\\" else 1
        return i + 1

    def _brace_end(self, i: int) -> int:
        """Past the `}` of a `${…}` (quotes and nested expansions inside honoured)."""
        text, n = self.text, self.n
        while i < n and text[i] != "}":
            c = text[i]
            if c == "\\":
                i += 2
            elif c == "'":
                end = text.find("'", i + 1)
                i = n if end < 0 else end + 1
            elif c == '"':
                i = self._double_quoted_end(i + 1)
            elif text.startswith("$(", i):
                i = _matching_paren(text, i + 1)
            elif text.startswith("${", i):
                i = self._brace_end(i + 2)
            else:
                i += 1
        return i + 1

    def _heredoc_bodies(self, i: int, heredocs: list[tuple[str, bool]]) -> int:
        """Past the bodies of the heredocs opened on the line that just ended: they are data, `)` included."""
        text, n = self.text, self.n
        for delimiter, strip_tabs in heredocs:
            while i < n:
                end = text.find("\n", i)
                end = n if end < 0 else end
                line = text[i:end]
                i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        return min(i, n)


def substitutions(word: str) -> list[str]:
    """The scripts of the command substitutions in a word: `$(…)` and backticks, outermost only
    (`$((…))` is arithmetic, not a command)."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        if word.startswith("$((", i):
            i = _matching_paren(word, i + 1)
        elif word.startswith("$(", i):
            end = _matching_paren(word, i + 1)
            out.append(word[i + 2 : end - 1] if word[end - 1 : end] == ")" else word[i + 2 :])
            i = end
        elif word[i] == "`":
            end = word.find("`", i + 1)
            out.append(word[i + 1 :] if end < 0 else word[i + 1 : end])
            i = n if end < 0 else end + 1
        else:
            i += 1
    return out


@dataclass
class _OpenCase:
    state: str  # "subject", "in", "pattern" or "body"
    depth: int  # the subshell depth the `case` opened at


def parse_script(text: str) -> Script:
    commands: list[Command] = []
    words: list[Token] = []
    joined_by = ""
    depth = 0

    def flush(next_op: str) -> None:
        nonlocal words, joined_by
        if words:
            commands.append(_command(words, joined_by, depth))
            joined_by = next_op
        elif next_op in ("&&", "||", "|") and commands:
            joined_by = next_op
        elif next_op == ";" and not commands:
            joined_by = ""
        words = []

    # One frame per open `case`: its state ("subject", "in", "pattern", "body") and the subshell depth it
    # opened at. Patterns are not commands, and a pattern's `)` closes no subshell.
    cases: list[_OpenCase] = []
    for t in tokenize(text):
        state = cases[-1].state if cases else ""
        at_command_start = all(w.raw in _PREFIX_WORDS for w in words)
        if state == "pattern":
            if t.operator and t.text == ")":
                cases[-1].state = "body"
            elif not t.operator and t.raw == "esac":
                cases.pop()
            continue  # the pattern's words, its optional `(`, `|` between alternatives, newlines
        if state in ("subject", "in") and t.raw == "\n":
            continue
        if t.operator:
            if t.text in (";;", ";;&", ";&") and state == "body" and cases[-1].depth == depth:
                flush(";")
                cases[-1].state = "pattern"
            elif t.text == "(":
                if words:
                    flush(joined_by)
                depth += 1
            elif t.text == ")":
                flush(";")
                while cases and cases[-1].depth >= depth:
                    cases.pop()  # an unfinished case inside the subshell ends with it
                depth = max(0, depth - 1)
            else:
                flush(t.text)
        elif state == "subject":
            words.append(t)
            cases[-1].state = "in"
        elif state == "in":
            flush(";")  # the `case WORD` header stays a command: its word's substitutions run
            cases[-1].state = "pattern"
        elif at_command_start and t.raw == "case":
            words.append(t)
            cases.append(_OpenCase("subject", depth))
        elif at_command_start and t.raw == "esac" and state == "body" and cases[-1].depth == depth:
            flush(";")
            cases.pop()
        else:
            words.append(t)
    flush("")
    expanded: list[Command] = []
    for c in commands:
        expanded.append(c)
        inner = c.unwrapped()
        if inner.name in ("sh", "bash", "dash", "ash", "zsh") and "-c" in inner.words:
            idx = inner.words.index("-c")
            if idx + 1 < len(inner.words):
                for sub in parse_script(inner.words[idx + 1]).commands:
                    expanded.append(Command(sub.words, sub.raw, sub.joined_by or c.joined_by, c.depth + 1))
    errexit = False
    for c in expanded:
        if c.name == "set":
            opts = " ".join(c.words[1:])
            if re.search(r"(^|\s)-[a-zA-Z]*e", opts) or "errexit" in opts:
                errexit = True
    return Script(tuple(expanded), errexit)


def _command(tokens: list[Token], joined_by: str, depth: int) -> Command:
    words: list[str] = []
    assignments: list[str] = []
    redirects: list[str] = []
    skip_next = False
    for t in tokens:
        if skip_next:
            redirects[-1] += " " + t.text
            skip_next = False
            continue
        m = _REDIRECT.match(t.raw)
        if m:
            redirects.append(t.raw)
            skip_next = len(m.group(0)) == len(t.raw)  # `> file`: the target is the next word
            continue
        if not words and _ASSIGNMENT.match(t.text):
            assignments.append(t.text)
            continue
        if not words and t.text in _PREFIX_WORDS:
            continue
        words.append(t.text)
    raw = " ".join(t.raw for t in tokens)
    return Command(tuple(words), raw, joined_by, depth, tuple(assignments), tuple(redirects))


def has_shell_features(text: str) -> bool:
    """Whether turning shell form into exec form would change what runs (expansion, operators, globs)."""
    return bool(re.search(r"[$`|&;<>*?~(){}\[\]\\]", text))
