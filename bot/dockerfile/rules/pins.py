"""Package installs without a version: apt-get, apk, pip and npm naming a package but not its version.

The check runs in every stage, as `apt-no-install-recommends` does (and hadolint's DL3008/DL3018/DL3013/
DL3016): an unpinned package in a builder stage changes what the shipped artifact is built with just as
surely as one in the final stage. It is low severity and never fixed: the version to pin is whatever the
build resolved, which only the package index knows.
"""

from __future__ import annotations

import re

from bot.dockerfile.packages import PackageCall
from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.state import Check, State

# A word that names a file, a directory or a URL rather than a package in an index: nothing to pin.
_NOT_A_NAME = re.compile(r"^(\.|/|~)|://|^(git\+|github:|gitlab:|bitbucket:|file:)|\.(deb|apk|whl|tgz|tar\.gz|zip|tar\.bz2)$")
# pip (PEP 440 / PEP 508): any version clause counts, as hadolint counts it; `pkg @ url` is a direct reference.
_PIP_VERSION = re.compile(r"(===?|~=|!=|<=?|>=?|@)")
# apk: `pkg=1.2`, `pkg~1.2`, `pkg>1.2`, `pkg<1.2` (`pkg@edge` is a repository tag, not a version).
_APK_VERSION = re.compile(r"[=~<>]")
# npm dist-tags that move with every release: naming them is not pinning.
_NPM_MOVING = frozenset({"", "latest", "next", "*", "x"})


def _apt_unpinned(word: str) -> bool:
    # `pkg=version` is a pin; `pkg/release` only picks the suite, whose newest version still moves.
    return "=" not in word


def _apk_unpinned(word: str) -> bool:
    return not _APK_VERSION.search(word)


def _pip_unpinned(word: str) -> bool:
    requirement = word.split(";", 1)[0]  # an environment marker (`; python_version<"3.9"`) is not a version
    return not _PIP_VERSION.search(requirement)


def _npm_unpinned(word: str) -> bool:
    if re.fullmatch(r"[\w.-]+/[\w.-]+(#.*)?", word):  # `user/repo`: GitHub shorthand, not the registry
        return False
    name_end = 1 if word.startswith("@") else 0  # `@scope/pkg@1.2`: the first `@` is the scope's
    at = word.find("@", name_end)
    return at < 0 or word[at + 1 :] in _NPM_MOVING


def _candidates(words: tuple[str, ...]) -> list[str]:
    """The words that name an index package: not a file, a URL or a value only the build knows (`$PKGS`)."""
    return [w for w in words if w and not w.startswith("$") and not _NOT_A_NAME.search(w)]


_MANAGERS = {
    # manager: (the install action, the unpinned test, hadolint code, how to find the version)
    "apt": ("install", _apt_unpinned, "DL3008", "`apt-cache policy PKG` in the base image"),
    "apk": ("add", _apk_unpinned, "DL3018", "`apk policy PKG` in the base image"),
    "pip": ("install", _pip_unpinned, "DL3013", "`pip index versions PKG`, or a requirements file with hashes"),
    "npm": ("install", _npm_unpinned, "DL3016", "`npm view PKG version`, or a package.json and `npm ci`"),
}


def unpinned_packages(call: PackageCall) -> list[str]:
    """The packages `call` installs without a version, in the order given; empty for anything else."""
    spec = _MANAGERS.get(call.manager)
    if spec is None or call.action != spec[0]:
        return []
    if call.manager == "pip":
        if call.has_option("--constraint", "-c"):  # the constraints file holds the versions
            return []
        words = list(call.packages)
        # `name @ https://…` written as three words is a direct reference: drop the name with it
        direct = {i - 1 for i, w in enumerate(words) if w == "@"}
        return [w for w in _candidates(tuple(w for i, w in enumerate(words) if i not in direct and w != "@"))
                if spec[1](w)]
    return [w for w in _candidates(call.packages) if spec[1](w)]


def _check_pins(st: State) -> None:
    for ins in st.dockerfile.shell_runs():
        # one finding per manager and RUN: `apt-get install a && … && apt-get install b` is one thing to pin
        by_manager: dict[str, tuple[str, list[str]]] = {}
        for call in st.calls(ins):
            unpinned = unpinned_packages(call)
            if unpinned:
                written = f"{call.command.unwrapped().name} {call.action}"
                by_manager.setdefault(call.manager, (written, []))[1].extend(unpinned)
        for manager, (written, unpinned) in by_manager.items():
            _, _, code, how = _MANAGERS[manager]
            shown = ", ".join(unpinned[:5]) + (f" and {len(unpinned) - 5} more" if len(unpinned) > 5 else "")
            st.add("package-unpinned", ins, f"{written} without a version: {shown}", hadolint=code,
                   packages=unpinned[:20], manager=manager,
                   remediation=f"Pin each package to the version the build uses; find it with {how}.")


CHECKS: tuple[Check, ...] = (_check_pins,)
FIXERS: tuple[Fixer, ...] = ()
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "package-unpinned": "the version to pin is whatever the package index serves; only a human can choose it",
}
