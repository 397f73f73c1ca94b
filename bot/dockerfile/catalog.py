"""The rule catalog: one entry per rule id. The ids are the words used in JSON, SARIF, docs and Slack."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    message: str  # one line, the default title of a finding
    hadolint: tuple[str, ...] = ()  # hadolint's codes for the same rule
    fixable: bool = False  # whether `coroner fix` can usually remove it (a finding may say otherwise)


S = Severity
RULES: tuple[Rule, ...] = (
    Rule("base-image-unpinned", S.MEDIUM, "Base image is not pinned to a version tag or digest", ("DL3006", "DL3007")),
    Rule("base-image-heavy", S.MEDIUM, "Shipped stage uses a full image where a slim variant exists"),
    Rule("apt-update-alone", S.MEDIUM, "apt-get update runs in its own layer: later installs use a stale cache", (), True),
    Rule("apt-no-install-recommends", S.MEDIUM, "apt-get install without --no-install-recommends", ("DL3015",), True),
    Rule("apt-lists-not-removed", S.MEDIUM, "apt lists are not removed in the layer that downloaded them", ("DL3009",), True),
    Rule("apt-upgrade", S.LOW, "Package upgrade inside the image: unpinned and unreproducible"),
    Rule("package-unpinned", S.LOW, "Package installed without a version pin: each build may get a different one",
         ("DL3008", "DL3018", "DL3013", "DL3016")),
    Rule("pip-cache", S.MEDIUM, "pip install keeps its download cache in the layer", ("DL3042",), True),
    Rule("package-cache", S.MEDIUM, "Package manager cache is left in the layer", ("DL3019", "DL3032", "DL3040", "DL3060"), True),
    Rule("gem-docs", S.LOW, "gem install generates ri/rdoc documentation into the layer", (), True),
    Rule("npm-install-not-ci", S.MEDIUM, "npm install with a lockfile copied in: npm ci installs exactly the lock", (), True),
    Rule("cleanup-in-later-layer", S.HIGH, "A later layer deletes what an earlier layer added: the bytes stay in the image"),
    Rule("consecutive-run", S.INFO, "Consecutive RUN instructions: each one is a layer", ("DL3059",)),
    Rule("build-tools-in-final-stage", S.HIGH, "Build tools ship in the final image", (), True),
    Rule("root-command-after-user", S.HIGH, "Root-only command after a non-root USER: the build fails", (), True),
    Rule("runs-as-root", S.MEDIUM, "The final stage runs as root", ("DL3002",), True),
    Rule("user-not-numeric", S.LOW, "USER is a name, not a numeric id: runAsNonRoot cannot verify it", ("DL3066",)),
    Rule("secret-in-env", S.CRITICAL, "A secret is baked into the image through ENV or ARG", ("DL3064",)),
    Rule("shell-form-entrypoint", S.MEDIUM, "CMD/ENTRYPOINT in shell form: /bin/sh is PID 1 and SIGTERM is lost", ("DL3025",), True),
    Rule("no-init", S.LOW, "PID 1 is a shell or script that will not forward SIGTERM, and there is no init"),
    Rule("no-healthcheck", S.INFO, "The final stage has no HEALTHCHECK", ("DL3057",)),
    Rule("dockerignore-missing", S.HIGH, "No .dockerignore: the whole build context is sent and copied", (), True),
    Rule("dockerignore-incomplete", S.MEDIUM, ".dockerignore misses paths that should never reach the build", (), True),
    Rule("copy-before-deps", S.MEDIUM, "Source is copied before dependencies are installed: every change busts the cache", (), True),
    Rule("no-cache-mount", S.INFO, "Dependency download in a builder stage without a cache mount", (), True),
    Rule("copy-without-link", S.INFO, "COPY without --link: the layer is rebuilt whenever the base changes", (), True),
    Rule("add-instead-of-copy", S.LOW, "ADD used for local files: use COPY", ("DL3020",), True),
    Rule("workdir-relative", S.MEDIUM, "WORKDIR is a relative path", ("DL3000",)),
    Rule("sudo", S.MEDIUM, "sudo in a RUN: builds run as root already, and sudo ships a setuid binary", ("DL3004",)),
    Rule("curl-pipe-shell", S.HIGH, "A downloaded script is piped straight into a shell"),
    Rule("pipefail", S.LOW, "A RUN pipes commands without pipefail: a failure before the last `|` is hidden", ("DL4006",), True),
    Rule("add-url-without-checksum", S.MEDIUM, "ADD downloads a URL without --checksum: the file is not verified"),
    Rule("docker-socket", S.CRITICAL, "The Docker socket is referenced: whoever holds it is root on the node"),
    Rule("cgroup-unaware-runtime", S.MEDIUM, "The runtime ignores cgroup v2 limits: heap and threads sized for the node"),
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
BY_HADOLINT: dict[str, tuple[str, ...]] = {}
for _r in RULES:
    for _code in _r.hadolint:
        BY_HADOLINT[_code] = BY_HADOLINT.get(_code, ()) + (_r.id,)

# `--fail-on` levels, as hadolint users know them, over our five severities.
FAIL_ON: dict[str, frozenset[Severity]] = {
    "error": frozenset({S.CRITICAL, S.HIGH}),
    "warning": frozenset({S.CRITICAL, S.HIGH, S.MEDIUM, S.LOW}),
    "info": frozenset(S),
    "none": frozenset(),
}


def level(severity: Severity) -> str:
    """The hadolint/SARIF-style level of a severity: error, warning or note."""
    if severity in (S.CRITICAL, S.HIGH):
        return "error"
    if severity in (S.MEDIUM, S.LOW):
        return "warning"
    return "note"
