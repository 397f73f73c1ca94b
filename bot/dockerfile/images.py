"""Facts about base image references: tag, digest, slim variants, runtime generations."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    registry: str | None
    repository: str  # e.g. "library/python" is written "python"
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The last path component: `python` for `docker.io/library/python`."""
        return self.repository.rsplit("/", 1)[-1]

    def with_tag(self, tag: str) -> str:
        prefix = f"{self.registry}/" if self.registry else ""
        return f"{prefix}{self.repository}:{tag}"


def parse_ref(ref: str) -> ImageRef:
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    registry = None
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, ref = first, rest
    head, slash, last = ref.rpartition("/")
    name, _, tag = last.partition(":")
    repo = f"{head}/{name}" if slash else name
    return ImageRef(registry, repo, tag or None, digest)


# Images with a smaller variant of the same version: name -> how to spell the slim tag.
_SLIM_FAMILIES = {"python", "node", "ruby", "perl", "rust", "debian", "php", "openjdk"}
_LEAN_MARKERS = ("slim", "alpine", "distroless", "minimal", "jre", "micro", "busybox", "scratch", "cli", "fpm")


def slim_variant(ref: ImageRef) -> str | None:
    """The slim tag of the same version (`python:3.11` -> `python:3.11-slim`), or None when lean already.

    Only the variant is changed: the version is never guessed.
    """
    if ref.digest or ref.name not in _SLIM_FAMILIES:
        return None
    tag = ref.tag or "latest"
    if any(m in tag for m in _LEAN_MARKERS) or "$" in tag:
        return None
    if ref.name == "php":
        return None  # php has no slim variant; its -cli/-fpm variants are different products
    if ref.name == "debian":
        return ref.with_tag("bookworm-slim" if tag == "latest" else f"{tag}-slim")
    if tag == "latest":
        return ref.with_tag("slim")
    # python:3.11-bookworm -> python:3.11-slim-bookworm; node:20-bookworm -> node:20-bookworm-slim
    m = re.fullmatch(r"(.*?)-(bookworm|bullseye|buster|trixie|stretch)", tag)
    if m:
        if ref.name == "node":
            return ref.with_tag(f"{tag}-slim")
        return ref.with_tag(f"{m.group(1)}-slim-{m.group(2)}")
    if ref.name == "openjdk":
        return None  # openjdk images are deprecated; the advice is a jre image, see the rule page
    return ref.with_tag(f"{tag}-slim")


def jdk_heavy(ref: ImageRef) -> bool:
    """A JDK image where a JRE of the same version exists (eclipse-temurin, amazoncorretto don't ship jre for all)."""
    return ref.name == "eclipse-temurin" and bool(ref.tag) and "jdk" in (ref.tag or "")


def cgroup_unaware(ref: ImageRef) -> str | None:
    """Why this runtime ignores cgroup v2 limits, or None. Based on the version in the tag."""
    tag = ref.tag or ""
    name = ref.name
    if name == "java":
        return "the deprecated java image predates cgroup v2 support"
    if name in ("openjdk", "eclipse-temurin", "amazoncorretto", "adoptopenjdk", "ibmjava", "zulu-openjdk") or (
        name.startswith("adoptopenjdk")
    ):
        m = re.match(r"(?:openjdk-?)?(\d+)(?:u(\d+)|\.0\.(\d+))?", tag)
        if not m:
            return None
        major = int(m.group(1))
        update = m.group(2) or m.group(3)
        if major == 8:
            if name in ("openjdk", "adoptopenjdk") or name.startswith("adoptopenjdk"):
                return "Java 8 from this image is frozen before 8u372, the first Java 8 that reads cgroup v2 limits"
            if update is not None and int(update) < 372:
                return f"Java 8u{update} predates 8u372, the first Java 8 that reads cgroup v2 limits"
        if major == 11 and update is not None and int(update) < 16:
            return f"Java 11.0.{update} predates 11.0.16, the first Java 11 that reads cgroup v2 limits"
        if 9 <= major <= 10 or 12 <= major <= 14:
            return f"Java {major} never learned cgroup v2 (support arrived in 15, backported to 11.0.16 and 8u372)"
        return None
    if name == "node":
        m = re.match(r"(\d+)", tag)
        if m and int(m.group(1)) < 20:
            return f"Node {m.group(1)} sizes its heap from the host's memory under cgroup v2 (fixed in Node 20)"
    if "dotnet" in ref.repository:
        m = re.match(r"(\d+)\.(\d+)", tag)
        if m and (int(m.group(1)), int(m.group(2))) < (5, 0):
            return f".NET {m.group(1)}.{m.group(2)} predates cgroup v2 support (.NET 5)"
    return None


# Images whose own last USER is not root (their Dockerfiles say so): mambaorg/micromamba (mambauser),
# bitnami (1001), nginxinc/nginx-unprivileged (101), the Jupyter stacks (jovyan), Chainguard (nonroot).
_NON_ROOT_REPOSITORIES = ("mambaorg/micromamba", "nginxinc/nginx-unprivileged", "jupyter/", "chainguard/", "bitnami/")


def runs_non_root(ref: ImageRef) -> bool:
    tag = ref.tag or ""
    return "nonroot" in tag or "non-root" in tag or ref.repository.startswith(_NON_ROOT_REPOSITORIES)


# Windows container images (servercore, nanoserver, and the language images built on them): no uids,
# no POSIX shell; `USER 10001:10001` does not start there.
_WINDOWS_TAG = re.compile(r"(nanoserver|windowsservercore|servercore|ltsc20\d\d|windows-?\d)", re.I)


def windows_image(ref: ImageRef) -> bool:
    return ref.repository.startswith("windows/") or ref.name in ("windows", "nanoserver", "servercore") or bool(
        _WINDOWS_TAG.search(ref.tag or ""))


def cuda_runtime_variant(ref: ImageRef) -> str | None:
    """`nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04` -> the `-runtime-` tag of the same version (the CUDA
    runtime libraries without nvcc and the headers), or None when `ref` is no nvidia/cuda devel image. A
    digest pins the devel image itself, so there is no runtime twin to name."""
    tag = ref.tag or ""
    if ref.name != "cuda" or ref.digest or "$" in tag or not re.search(r"(^|-)devel(-|$)", tag):
        return None
    return ref.with_tag(re.sub(r"(^|-)devel(-|$)", r"\1runtime\2", tag, count=1))


# CI agents and runners: their job is to run builds, so the compilers installed on them are what they ship
# for, not leftovers of an app's build.
_CI_AGENT_REPOSITORIES = ("jenkins/inbound-agent", "jenkins/agent", "jenkins/ssh-agent", "jenkins/jnlp-slave",
                          "gitlab/gitlab-runner", "actions/actions-runner", "myoung34/github-runner",
                          "summerwind/actions-runner", "buildkite/agent", "cimg/")


def ci_agent_image(ref: ImageRef) -> bool:
    return ref.repository.startswith(_CI_AGENT_REPOSITORIES)


# Images whose whole purpose is building: shipping them ships compilers and headers.
def toolchain_image(ref: ImageRef) -> bool:
    tag = ref.tag or ""
    if ref.name in ("golang", "rust", "maven", "gradle", "gcc", "buildpack-deps"):
        return True
    return ref.name == "cuda" and "devel" in tag
