"""The build context: no .dockerignore, or one that misses what should never be sent; and the
.dockerignore `coroner fix` writes, from the context walk or from what an image's `COPY .` layer held."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.dockerfile.parser import Dockerfile
from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.state import Check, State, whole_context_uses
from bot.domain import Finding
from bot.units import human_bytes

if TYPE_CHECKING:  # the context walk is imported only when it is used: `coroner lint` starts fast
    from bot.dockerfile import context as ctxmod


def _check_dockerignore(st: State) -> None:
    d = st.dockerfile
    if st.context is None:
        return
    copies = whole_context_uses(d)
    if not copies and not st.measure:
        return  # nothing copies the whole context, and no walk was asked for
    from bot.dockerfile import context as ctxmod

    ignore_file = ctxmod.find_dockerignore(st.context, d.path)
    audit_result = ctxmod.audit(st.context, dockerfile=d.path) if st.measure else None
    st.audit = audit_result
    # Without a whole-context COPY or bind mount, BuildKit sends only the paths the build names: the junk
    # beside them is never sent. The legacy builder (Windows images) sends the whole context whatever is named.
    sends_all = bool(copies) or d.legacy_builder
    if ignore_file is None:
        if copies or (sends_all and audit_result is not None and audit_result.junk):
            extra: dict[str, Any] = {}
            title = None
            if audit_result is not None:
                extra = {"context_bytes": audit_result.total_bytes,
                         "largest": [e.path for e in audit_result.largest[:5]]}
                junk = ", ".join(f"{e.path} ({human_bytes(e.sent_bytes)})" for e in audit_result.junk[:4])
                title = f"No .dockerignore: the build sends {human_bytes(audit_result.total_bytes)}" + (f", including {junk}" if junk else "")
            st.add("dockerignore-missing", copies[0] if copies else None, title, fixable=True,
                   remediation="Write a .dockerignore (coroner fix --write does).", **extra)
        return
    patterns = ctxmod.parse_dockerignore(ctxmod.read_dockerignore(ignore_file), source=str(ignore_file))
    missing = ctxmod.missing_standard_entries(patterns)
    extra_missing: list[str] = []
    if audit_result is not None:
        extra_missing += [e.path for e in audit_result.junk]
        extra_missing += list(audit_result.data_patterns)
        extra_missing += list(audit_result.secrets)
    if (missing or extra_missing) and (copies or (sends_all and extra_missing)):
        shown = missing + [m for m in extra_missing if m not in missing]
        st.add("dockerignore-incomplete", copies[0] if copies else None,
               f".dockerignore misses: {', '.join(shown[:8])}", fixable=True, missing=shown,
               dockerignore=str(ignore_file),
               remediation="Add the missing patterns (coroner fix --write does).")


def keep_copied(lines: list[str], copied: list[str]) -> list[str]:
    """Drop the patterns that would exclude a path the Dockerfile COPYs by name: the build would fail."""
    from bot.dockerfile import context as ctxmod

    out = []
    for line in lines:
        if line.startswith(("#", "!")):
            out.append(line)
            continue
        m = ctxmod.Matcher(ctxmod.parse_dockerignore(line))
        if any(m.excluded(src) for src in copied):
            continue
        out.append(line)
    return out


def named_sources(d: Dockerfile) -> list[str]:
    out = []
    for ins in d.instructions:
        if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None and not ins.heredocs:
            words = list(ins.exec_form) if ins.exec_form else ins.arguments.split()
            for src in words[:-1]:
                src = src.strip("./") if src.startswith("./") else src
                if src and src not in (".", "*") and "$" not in src and not src.startswith(("http://", "https://")):
                    out.append(src.rstrip("/"))
    return out


def propose(
    before: list[Finding], context: Path | None, path: str, measure: bool, copied: list[str],
    seen: list[ctxmod.SeenPath],
) -> tuple[str | None, str | None, str | None, tuple[Finding, ...]]:
    """(content, path, the existing content it replaces, findings it fixes) of the .dockerignore to write."""
    from bot.dockerfile import context as ctxmod

    if context is None:
        return None, None, None, ()
    missing = [f for f in before if f.rule == "dockerignore-missing"]
    incomplete = [f for f in before if f.rule == "dockerignore-incomplete"]
    existing_path = ctxmod.find_dockerignore(context, path)
    if not missing and not incomplete and not (seen and existing_path is not None):
        return None, None, None, ()
    audit = ctxmod.audit(context, dockerfile=path) if measure else None
    if existing_path is None:
        lines = keep_copied(ctxmod.recommended_dockerignore(audit, seen), copied)
        return "\n".join(lines) + "\n", str(context / ".dockerignore"), None, tuple(missing)
    existing = ctxmod.read_dockerignore(existing_path)
    add = [str(m) for f in incomplete[:1] for m in f.evidence.get("missing", [])] + [s.path for s in seen]
    present = {line.strip().rstrip("/") for line in existing.splitlines()}
    lines = [line for line in dict.fromkeys(keep_copied([m.rstrip("/") for m in add], copied)) if line not in present]
    if not lines:
        return None, None, None, ()
    body = existing if existing.endswith("\n") or not existing else existing + "\n"
    body += "# Added by `coroner fix`\n" + "\n".join(lines) + "\n"
    return body, str(existing_path), existing, tuple(incomplete)


CHECKS: tuple[Check, ...] = (_check_dockerignore,)
FIXERS: tuple[Fixer, ...] = ()
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
}
