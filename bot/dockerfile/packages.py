"""What a shell command does, in package-manager terms: which manager, which subcommand, which packages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dockerfile.options import APK, NO_ARGS, NPM, PIP, ParsedArgs, parse_args
from bot.dockerfile.options import APT as APT_OPTIONS
from bot.dockerfile.shell import Command, positional_words

APT = ("apt-get", "apt", "aptitude")
# Options that take a value, so the value is not mistaken for a subcommand or package.
_VALUE_OPTIONS = frozenset(
    {"-o", "-c", "-t", "--option", "--target-release", "-r", "--requirement", "-e", "--editable", "-f",
     "--find-links", "-i", "--index-url", "--extra-index-url", "-X", "--repo", "--virtual", "--target",
     "--prefix", "--root", "-w", "--wheel-dir", "-d", "--dest", "--constraint", "--cache-dir", "--platform",
     "--enablerepo", "--disablerepo", "--setopt", "--installroot", "--repository"}
)


@dataclass(frozen=True)
class PackageCall:
    manager: str  # apt, apk, yum, dnf, microdnf, zypper, pip, npm, yarn, pnpm, go, gem, bundle, composer, conda
    action: str  # install, update, upgrade, remove, clean, wheel, ci, download, build, ...
    packages: tuple[str, ...]
    command: Command
    # The options as the tool itself reads them (pip, apt, apk, npm); empty for the other managers.
    args: ParsedArgs = NO_ARGS

    def has_option(self, *names: str) -> bool:
        """Whether the tool would see one of the canonical options `names` (`--no-cache-dir`, `-y`)."""
        return self.args.has(*names)


def classify(command: Command) -> PackageCall | None:
    c = command.unwrapped()
    name = c.name
    words = c.words
    if name in APT:
        args = parse_args(words[1:], APT_OPTIONS)
        given = args.positional
        return PackageCall("apt", given[0], given[1:], command, args) if given else None
    if name == "apk":
        args = parse_args(words[1:], APK)
        given = args.positional
        return PackageCall("apk", given[0], given[1:], command, args) if given else None
    if name in ("yum", "dnf", "microdnf", "zypper", "tdnf"):
        pos = _positional(words[1:])
        if not pos:
            return None
        action = {"in": "install", "up": "update", "rm": "remove", "erase": "remove"}.get(pos[0], pos[0])
        mgr = "dnf" if name in ("dnf", "microdnf", "tdnf") else name
        return PackageCall(mgr, action, tuple(pos[1:]), command)
    pip = _pip_args(words)
    if pip is not None:
        args = parse_args(pip, PIP)
        given = args.positional
        return PackageCall("pip", given[0], given[1:], command, args) if given else None
    if name in ("npm", "pnpm"):
        args = parse_args(words[1:], NPM)
        given = args.positional
        action = given[0] if given else ""
        action = {"i": "install", "add": "install", "clean-install": "ci", "isntall": "install",
                  "in": "install", "ins": "install", "inst": "install", "insta": "install", "instal": "install",
                  "ic": "ci", "install-clean": "ci"}.get(action, action)
        return PackageCall(name, action, given[1:], command, args) if action else None
    if name == "yarn":
        pos = _positional(words[1:])
        if not pos and any(w in ("--version", "-v", "--help", "-h") for w in words[1:]):
            return PackageCall("yarn", "version", (), command)
        return PackageCall("yarn", pos[0] if pos else "install", tuple(pos[1:]), command)
    if name == "go" and len(words) > 1:
        pos = _positional(words[1:])
        if pos[:2] == ["mod", "download"]:
            return PackageCall("go", "download", (), command)
        if pos and pos[0] in ("build", "install"):
            return PackageCall("go", pos[0], tuple(pos[1:]), command)
    if name in ("conda", "mamba", "micromamba"):
        pos = _positional(words[1:])
        if pos[:1] == ["env"] and len(pos) > 1:  # `conda env create -f environment.yml`
            return PackageCall("conda", f"env {pos[1]}", tuple(pos[2:]), command)
        return PackageCall("conda", pos[0], tuple(pos[1:]), command) if pos else None
    if name in ("gem", "bundle", "composer", "cargo", "mvn", "gradle", "poetry", "uv", "pipenv"):
        pos = _positional(words[1:])
        return PackageCall(name, pos[0] if pos else "", tuple(pos[1:]), command)
    return None


def _pip_args(words: tuple[str, ...]) -> tuple[str, ...] | None:
    """The arguments after `pip`, `pip3`, `pip3.11` or `python -m pip`; None when this is not pip."""
    if not words:
        return None
    head = words[0].rsplit("/", 1)[-1]
    if re.fullmatch(r"pip[0-9.]*", head):
        return words[1:]
    if re.fullmatch(r"python[0-9.]*", head) and len(words) > 2 and words[1] == "-m" and words[2] == "pip":
        return words[3:]
    return None


def _positional(args: tuple[str, ...] | list[str]) -> list[str]:
    return positional_words(args, _VALUE_OPTIONS)


# Packages that are only needed to build, never to run.
_BUILD_TOOL = re.compile(
    r"^(build-essential|build-base|gcc(-[0-9.]+)?|g\+\+(-[0-9.]+)?|gcc-c\+\+|clang(-[0-9]+)?|llvm(-[0-9]+)?|"
    r"make|cmake|autoconf|automake|libtool|pkg-config|pkgconf|git|vim|vim-tiny|nano|"
    r"cuda-toolkit.*|nvidia-cuda-toolkit|cuda-nvcc.*|cuda-compiler.*|"
    r"golang(-[0-9.]+)?(-go)?|go|rust|rustc|cargo|maven|gradle|openjdk-[0-9]+-jdk(-headless)?|openjdk[0-9]+(-jdk)?|"
    r"default-jdk(-headless)?|musl-dev|linux-headers|"
    r"python3?-dev|python[0-9.]*-dev|.*-dev|.*-devel)(=.*)?$"
)


def is_build_tool(package: str) -> bool:
    return bool(_BUILD_TOOL.match(package))
