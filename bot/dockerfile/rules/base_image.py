"""Base images: unpinned, heavier than needed, with a runtime blind to cgroup limits; the pin fix."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.dockerfile.artifact import java_build_on_jdk
from bot.dockerfile.images import cgroup_unaware, jdk_heavy, parse_ref, slim_variant
from bot.dockerfile.rules.edits import Fixer, Work, span_of, splice
from bot.dockerfile.rules.state import Check, State


def _check_base_images(st: State) -> None:
    d = st.dockerfile
    for stage in d.stages:
        ins = stage.from_instruction
        if stage.base_stage(d.stages) is not None or stage.base_image.lower() == "scratch":
            continue
        if "$" in stage.base_image:
            continue  # an ARG with no default: the pin is decided at build time
        ref = parse_ref(stage.base_image)
        if ref.digest is None and ref.tag is None:
            st.add("base-image-unpinned", ins, f"Base image {stage.base_image} has no tag: it floats with 'latest'",
                   hadolint="DL3006", image=stage.base_image,
                   remediation="Pin a version tag (and ideally a digest): FROM image:1.2.3@sha256:…")
        elif ref.digest is None and ref.tag == "latest":
            st.add("base-image-unpinned", ins, f"Base image {stage.base_image} uses 'latest'", hadolint="DL3007",
                   image=stage.base_image, remediation="Pin a version tag (and ideally a digest).")
        if stage.index in st.shipped:
            slim = slim_variant(ref)
            if slim:
                st.add("base-image-heavy", ins, f"{stage.base_image} is the full image; {slim} is the same version, slim",
                       fixable=False, image=stage.base_image, suggestion=slim,
                       remediation=f"Use {slim} in the stage that ships (build in a full-image builder stage).")
            elif jdk_heavy(ref) and not java_build_on_jdk(stage):  # building there, the JDK is a build tool
                st.add("base-image-heavy", ins, f"{stage.base_image} ships a JDK; the app only needs a JRE",
                       fixable=False, image=stage.base_image, remediation="Use the -jre variant of the same version.")
            why = cgroup_unaware(ref)
            if why:
                st.add("cgroup-unaware-runtime", ins, f"{stage.base_image}: {why}", image=stage.base_image,
                       remediation="Move to a runtime that reads cgroup v2 limits, or set heap/threads explicitly.")


def pin_from_image(ref: str, *, digest: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """The exact pin for `ref` from facts about the image itself, or None when they do not give one.

    A digest pins exactly (`python:3.11@sha256:…`). Otherwise the official images' version variable
    (`PYTHON_VERSION=3.11.9`) turns `python:3.11` into `python:3.11.9`, keeping the variant suffix.
    """
    parsed = parse_ref(ref)
    if digest:
        base = ref.split("@", 1)[0]
        return f"{base}@{digest}"
    env = env or {}
    var = {"python": "PYTHON_VERSION", "node": "NODE_VERSION", "golang": "GOLANG_VERSION", "ruby": "RUBY_VERSION",
           "php": "PHP_VERSION", "perl": "PERL_VERSION"}.get(parsed.name)
    version = env.get(var) if var else None
    if not version or not re.fullmatch(r"[0-9][0-9A-Za-z.\-]*", version):
        return None
    tag = parsed.tag or "latest"
    suffix = ""
    m = re.match(r"^[0-9][0-9.]*(?P<suffix>-.+)?$", tag)
    if m:
        suffix = m.group("suffix") or ""
    elif tag != "latest":
        suffix = "-" + tag  # `python:slim` -> `python:3.11.9-slim`
    if tag != "latest" and m and not version.startswith(tag.split("-", 1)[0]):
        return None  # the image's version does not belong to this tag: something is off, don't guess
    return parsed.with_tag(version + suffix)


def _fix_base_pin(w: Work) -> str | None:
    if not w.pins:
        return None
    d = w.parsed()
    edits = []
    for stage in d.stages:
        pin = w.pins.get(stage.base_image) or w.pins.get(stage.base_image_raw)
        if not pin or pin == stage.base_image:
            continue
        ins = stage.from_instruction
        lines = ins.original.split("\n")
        new = lines[0].replace(stage.base_image_raw, pin, 1)
        if new != lines[0]:
            lines[0] = new
            edits.append((*span_of(ins), lines))
    return splice(d.text, edits) if edits else None


CHECKS: tuple[Check, ...] = (_check_base_images,)
FIXERS: tuple[Fixer, ...] = (_fix_base_pin,)
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "base-image-unpinned": "the exact version is not known here, and coroner never invents one; pin it by tag and digest",
    "base-image-heavy": "a slim base can lack libraries the app needs at run time; switch after a test build",
    "cgroup-unaware-runtime": "moving to a newer runtime means choosing a version; coroner never invents one",
}
