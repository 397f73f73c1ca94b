"""Command-line options as the package managers' own parsers read them.

A rule that asks "does this `pip install` keep its cache?" must answer as pip would: pip's optparse
accepts any unambiguous prefix of a long option (`--no-cache` is `--no-cache-dir`; `--no-c` is ambiguous
and so is no option at all), `--opt=value` and `--opt value`, and short-option clusters (`-qU`,
`-rrequirements.txt`). apk's getopt_long accepts unambiguous prefixes too. apt-get's CommandLine takes
exact long names, `--no-X` for any boolean X and `-o Group::Option=value`; npm's nopt takes exact names,
`--no-X` and `--X=false`.

Each tool's table lists every option it has that takes a value (so the value is never read as a
package), and, where the tool matches prefixes, every long option it has: ambiguity is decided against
the tool's whole vocabulary, not against the few options the rules care about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_FALSE = frozenset({"0", "false", "no", "off"})


def is_false(value: str) -> bool:
    """How apt, pip and npm read a boolean's value: `0`, `false`, `no`, `off` (any case) are false."""
    return value.strip().lower() in _FALSE


@dataclass(frozen=True)
class OptionTable:
    """One tool's options: long names (without `--`) and short letters, each mapped to whether it takes
    a value. `prefixes`: the tool accepts an unambiguous prefix of a long name."""

    long: dict[str, bool]
    short: dict[str, bool]
    prefixes: bool = False
    negation: bool = False  # `--no-X` turns the boolean X off (apt, npm)

    def resolve(self, name: str) -> str | None:
        """The long option `name` (without `--`) stands for, or None when it is unknown or ambiguous."""
        if name in self.long:
            return name
        if self.prefixes:
            candidates = [full for full in self.long if full.startswith(name)]
            if len(candidates) == 1:
                return candidates[0]
        return None


@dataclass(frozen=True)
class Option:
    name: str  # canonical: `--no-cache-dir`, `-y`; an unknown or ambiguous option as written
    value: str | None = None
    known: bool = True
    written: tuple[str, ...] = ()  # the words it took on the command line (`--target`, `/x`), to edit them


@dataclass(frozen=True)
class ParsedArgs:
    options: tuple[Option, ...]
    positional: tuple[str, ...]

    def has(self, *names: str) -> bool:
        """Whether any of the canonical options `names` (`--no-cache-dir`, `-y`) was given."""
        return any(o.known and o.name in names for o in self.options)

    def values(self, *names: str) -> list[str]:
        return [o.value for o in self.options if o.known and o.name in names and o.value is not None]


NO_ARGS = ParsedArgs((), ())  # a manager whose options are not read


def parse_args(words: Sequence[str], table: OptionTable) -> ParsedArgs:
    """Split `words` (the arguments after the program name) into options and positional words."""
    options: list[Option] = []
    positional: list[str] = []
    i = 0
    n = len(words)
    while i < n:
        word = words[i]
        i += 1
        if word == "--":
            positional += words[i:]
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word[2:].partition("=")
            full = table.resolve(name)
            if full is None and table.negation and name.startswith("no-") and name[3:] in table.long:
                options.append(Option("--" + name, value if eq else None, written=(word,)))
                continue
            if full is None:
                options.append(Option(word.split("=", 1)[0], value if eq else None, known=False, written=(word,)))
                continue
            written: tuple[str, ...] = (word,)
            if table.long[full] and not eq and i < n:
                value, eq = words[i], "="
                written += (words[i],)
                i += 1
            options.append(Option("--" + full, value if eq else None, written=written))
            continue
        if word.startswith("-") and len(word) > 1:
            letters = word[1:]
            cluster: list[Option] = []
            taken: tuple[str, ...] = (word,)
            for k, letter in enumerate(letters):
                takes_value = table.short.get(letter)
                if not takes_value:
                    cluster.append(Option("-" + letter, known=takes_value is not None))
                    continue
                rest = letters[k + 1 :]
                if rest:
                    value = rest.removeprefix("=")
                elif i < n:
                    value = words[i]
                    taken += (words[i],)
                    i += 1
                else:
                    value = ""
                cluster.append(Option("-" + letter, value))
                break
            # an option of a cluster (`-qU`) can only be edited as the whole cluster: it is `written` alone
            options += [Option(o.name, o.value, o.known, taken if len(cluster) == 1 else ()) for o in cluster]
            continue
        positional.append(word)
    return ParsedArgs(tuple(options), tuple(positional))


def _table(flags: str, valued: str, short_flags: str, short_valued: str, **kw: bool) -> OptionTable:
    long = dict.fromkeys(flags.split(), False) | dict.fromkeys(valued.split(), True)
    short = dict.fromkeys(short_flags, False) | dict.fromkeys(short_valued, True)
    return OptionTable(long, short, **kw)


# pip 24 (general options + install, wheel, download, uninstall, freeze, list, show, cache, config).
PIP = _table(
    flags="help debug isolated require-virtualenv verbose version quiet no-input no-cache-dir "
    "disable-pip-version-check no-color no-python-version-warning no-deps pre dry-run user upgrade "
    "force-reinstall ignore-installed ignore-requires-python no-build-isolation use-pep517 no-use-pep517 "
    "check-build-dependencies break-system-packages compile no-compile no-warn-script-location "
    "no-warn-conflicts prefer-binary require-hashes no-clean no-index yes local outdated uptodate "
    "not-required include-editable exclude-editable all path files global site",
    valued="python log keyring-provider proxy retries timeout exists-action trusted-host cert client-cert "
    "cache-dir use-feature use-deprecated resume-retries requirement constraint editable target platform "
    "python-version implementation abi root prefix src upgrade-strategy config-settings global-option "
    "build-option no-binary only-binary progress-bar root-user-action report group index-url "
    "extra-index-url find-links wheel-dir dest exclude format",
    short_flags="hvVqUIy",
    short_valued="rcetiCfwd",
    prefixes=True,
)

# apt-get / apt (apt-pkg's CommandLine: exact names, `--no-X` for booleans).
APT = _table(
    flags="yes assume-yes assume-no quiet download-only fix-broken fix-missing ignore-missing no-download "
    "simulate just-print dry-run recon no-act show-upgraded verbose-versions install-recommends "
    "install-suggests print-uris reinstall purge auto-remove autoremove list-cleanup allow-downgrades "
    "allow-remove-essential allow-change-held-packages allow-unauthenticated allow-insecure-repositories "
    "allow-releaseinfo-change force-yes only-source upgrade only-upgrade trivial-only remove arch-only "
    "indep-only fix-policy ignore-hold with-new-pkgs mark-auto compile build diff-only dsc-only tar-only "
    "help version",
    valued="target-release default-release option config-file host-architecture build-profiles solver "
    "planner",
    short_flags="yqdfmsbuVhv",
    short_valued="octa",
    negation=True,
)

# apk-tools 2.x (getopt_long: unambiguous prefixes).
APK = _table(
    flags="no-cache update-cache allow-untrusted initdb no-network no-progress progress quiet verbose "
    "interactive force force-overwrite force-broken-world force-non-repository force-old-apk force-refresh "
    "force-missing-repositories clean-protected latest upgrade no-scripts no-commit-hooks print-arch purge "
    "no-chown usermode simulate no-interactive help version available recursive rdepends",
    valued="virtual repository root cache-dir cache-max-age keys-dir arch wait repositories-file",
    short_flags="Uqvifshlua",
    short_valued="tXp",
    prefixes=True,
)

# npm (nopt: exact names, `--no-X`, `--X=false`); only the options that take a value must be complete.
NPM = _table(
    flags="production save save-dev save-prod save-optional save-exact save-bundle no-save global "
    "ignore-scripts dry-run force legacy-peer-deps strict-peer-deps prefer-offline prefer-online offline "
    "audit fund package-lock package-lock-only foreground-scripts workspaces include-workspace-root "
    "install-links bin-links global-style link yes quiet silent verbose help",
    valued="omit include only also prefix registry cache loglevel workspace userconfig globalconfig "
    "tag install-strategy before cpu os libc location",
    short_flags="DPOEBgfqsdy",
    short_valued="w",
    negation=True,
)

# RubyGems' `gem install` / `gem update` (Ruby's OptionParser: unambiguous prefixes, `--[no-]X`).
GEM = _table(
    flags="no-document prerelease vendor env-shebang force wrappers ignore-dependencies format-executable "
    "user-install development development-all conservative minimal-deps post-install-message default explain "
    "lock suggestions local remote both clear-sources http-proxy help verbose quiet silent backtrace debug norc "
    "system",
    valued="platform version install-dir bindir document build-root trust-policy file without bulk-threshold "
    "source config-file target-rbconfig",
    short_flags="NEfwlrbhVq",
    short_valued="vinPgBsp",
    prefixes=True,
    negation=True,
)

# `conda clean` / `mamba clean` (argparse: unambiguous prefixes of long options).
CONDA_CLEAN = _table(
    flags="all index-cache packages tarballs force-pkgs-dirs tempfiles logfiles yes dry-run quiet verbose json "
    "console help offline",
    valued="",
    short_flags="aiptfclydqvh",
    short_valued="",
    prefixes=True,
)
