"""Options as pip, apt-get, apk and npm read them, and the rules that depend on them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.dockerfile.options import APK, APT, NPM, PIP, OptionTable, parse_args
from bot.dockerfile.packages import PackageCall, classify
from bot.dockerfile.parser import parse
from bot.dockerfile.rules import lint
from bot.dockerfile.shell import parse_script


def call(command: str) -> PackageCall:
    found = classify(parse_script(command).commands[0])
    assert found is not None, command
    return found


def rules(dockerfile: str) -> set[str]:
    return {f.rule for f in lint(parse(dockerfile))}


# --- pip: optparse's unambiguous prefixes -----------------------------------------------------------


def test_pip_no_cache_is_no_cache_dir() -> None:
    assert call("pip install --no-cache /wheels/app.whl").has_option("--no-cache-dir")
    assert call("pip install --no-cache-d x").has_option("--no-cache-dir")


def test_pip_ambiguous_prefix_is_no_option() -> None:
    # --no-c: --no-cache-dir, --no-clean, --no-color, --no-compile: pip refuses it, so it is not --no-cache-dir
    parsed = call("pip install --no-c x")
    assert not parsed.has_option("--no-cache-dir")
    assert parsed.packages == ("x",)


def test_pip_value_forms_and_short_clusters() -> None:
    for command in ("pip install -r req.txt", "pip install -rreq.txt", "pip install --requirement=req.txt",
                    "pip install --requirement req.txt", "pip install --requirem req.txt", "pip install -qr req.txt"):
        parsed = call(command)
        assert parsed.args.values("-r", "--requirement") == ["req.txt"], command
        assert parsed.packages == (), command
    # --req: --requirement, --require-hashes, --require-virtualenv: ambiguous, so no value is taken
    assert call("pip install --req req.txt").args.values("-r", "--requirement") == []
    assert call("pip install --index-url https://pypi.internal/simple flask").packages == ("flask",)
    assert call("python3 -m pip --no-cache-dir install flask").has_option("--no-cache-dir")


def test_pip_cache_rule_reads_prefixes() -> None:
    assert "pip-cache" not in rules("FROM python:3.12-slim\nRUN pip install --no-cache /wheels/*\n")
    assert "pip-cache" not in rules("FROM python:3.12-slim\nRUN pip install --no-cache-d flask\n")
    assert "pip-cache" in rules("FROM python:3.12-slim\nRUN pip install --no-c flask\n")
    assert "pip-cache" in rules("FROM python:3.12-slim\nRUN pip install flask\n")


_PIP_LONG = sorted(PIP.long)


@given(st.sampled_from(_PIP_LONG), st.data())
def test_pip_every_unambiguous_prefix_resolves_to_its_option(name: str, data: st.DataObject) -> None:
    length = data.draw(st.integers(min_value=1, max_value=len(name)))
    prefix = name[:length]
    matches = [full for full in _PIP_LONG if full.startswith(prefix)]
    resolved = PIP.resolve(prefix)
    if prefix in PIP.long:
        assert resolved == prefix  # an exact name wins over the longer ones it prefixes (--upgrade)
    elif len(matches) == 1:
        assert resolved == name
    else:
        assert resolved is None


@given(st.sampled_from(sorted(n for n, valued in PIP.long.items() if valued)),
       st.text(alphabet="abcdefgh./:-_0123456789", min_size=1, max_size=12))
def test_pip_equals_and_space_forms_are_the_same(name: str, value: str) -> None:
    joined = parse_args([f"--{name}={value}", "pkg"], PIP)
    spaced = parse_args([f"--{name}", value, "pkg"], PIP)
    assert [(o.name, o.value) for o in joined.options] == [(o.name, o.value) for o in spaced.options]
    assert joined.positional == spaced.positional == ("pkg",)


# --- apt-get: exact names, --no-X, short clusters, -o ------------------------------------------------


def test_apt_short_clusters_and_option_values() -> None:
    parsed = call("apt-get -yq -o Dpkg::Options::=--force-confold install --no-install-recommends curl")
    assert parsed.action == "install" and parsed.packages == ("curl",)
    assert parsed.has_option("-y") and parsed.has_option("-q")
    assert call("apt-get install -t bookworm-backports -y git").packages == ("git",)


def test_apt_recommends_as_apt_reads_them() -> None:
    base = "FROM debian:12-slim\nRUN apt-get update && apt-get install -y {} curl && rm -rf /var/lib/apt/lists/*\n"
    assert "apt-no-install-recommends" not in rules(base.format("--no-install-recommends"))
    assert "apt-no-install-recommends" not in rules(base.format("-o APT::Install-Recommends=false"))
    assert "apt-no-install-recommends" not in rules(base.format("--install-recommends=no"))
    assert "apt-no-install-recommends" in rules(base.format("--no-install-recommends --install-recommends"))
    # apt matches no prefixes: --no-install-rec is an unknown option, recommends stay on
    assert "apt-no-install-recommends" in rules(base.format("--no-install-rec"))


# --- apk: getopt_long prefixes -----------------------------------------------------------------------


def test_apk_no_cache_and_prefixes() -> None:
    assert "package-cache" not in rules("FROM alpine:3.20\nRUN apk add --no-cache curl\n")
    assert "package-cache" not in rules("FROM alpine:3.20\nRUN apk add --no-cach curl\n")
    assert "package-cache" in rules("FROM alpine:3.20\nRUN apk add --no-c curl\n")  # --no-cache, --no-chown, ...
    assert call("apk add --virtual .build-deps gcc musl-dev").packages == ("gcc", "musl-dev")
    assert call("apk add -t .build-deps gcc").packages == ("gcc",)


# --- npm: --omit=dev, --omit dev, --production, npm ci -----------------------------------------------


def test_npm_options_are_not_packages() -> None:
    for command in ("npm ci --omit=dev", "npm ci --omit dev", "npm install --production", "npm i --omit dev -g"):
        parsed = call(command)
        assert parsed.packages == (), command
    assert call("npm ci --omit dev").action == "ci"
    assert call("npm clean-install").action == "ci"
    assert call("npm install --omit dev").args.values("--omit") == ["dev"]
    assert call("npm install --no-save left-pad").packages == ("left-pad",)


def test_unknown_options_are_kept_apart() -> None:
    table = OptionTable({"alpha": False, "beta": True}, {"a": False}, prefixes=True)
    parsed = parse_args(["--gamma", "-z", "--al", "--be", "v", "--", "-notanoption"], table)
    assert [(o.name, o.known) for o in parsed.options] == [("--gamma", False), ("-z", False), ("--alpha", True),
                                                           ("--beta", True)]
    assert parsed.positional == ("-notanoption",)


@given(st.lists(st.sampled_from(["-y", "-q", "-qq", "-yq", "--yes", "--quiet", "--no-install-recommends"]),
                max_size=5),
       st.lists(st.from_regex(r"[a-z][a-z0-9.+-]{0,10}", fullmatch=True), min_size=1, max_size=4))
def test_apt_packages_never_include_options(options: list[str], packages: list[str]) -> None:
    parsed = parse_args(["install", *options, *packages], APT)
    assert parsed.positional == ("install", *packages)


def test_tables_cover_the_four_tools() -> None:
    assert APK.prefixes and PIP.prefixes and not APT.prefixes and not NPM.prefixes
