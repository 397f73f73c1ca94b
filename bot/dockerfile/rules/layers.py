"""Layer hygiene: consecutive RUNs, and a later layer deleting what an earlier one added."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

from bot.dockerfile.parser import Instruction
from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.state import Check, State, copy_sources, removes_apt_lists


def _check_consecutive_runs(st: State) -> None:
    for stage in st.dockerfile.stages:
        prev: Instruction | None = None
        for ins in stage.instructions:
            if ins.keyword != "RUN":
                prev = None
                continue
            if (
                prev is not None
                and prev.flags == ins.flags
                and len(st.script(prev).commands) == 1
                and len(st.script(ins).commands) == 1
            ):
                st.add("consecutive-run", ins, previous_line=prev.line,
                       remediation="Join related commands with && in one RUN.")
            prev = ins


def _check_cleanup_later(st: State) -> None:
    d = st.dockerfile
    for idx in sorted(st.shipped):
        stage = d.stages[idx]
        added: list[tuple[str, Instruction]] = []  # (path or "pkg:name", instruction that added it)
        for ins in stage.instructions:
            if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None:
                srcs, dest = copy_sources(ins), (ins.exec_form[-1] if ins.exec_form else (ins.arguments.split() or [""])[-1])
                for s in srcs:
                    target = dest.rstrip("/") + "/" + Path(s).name if dest.endswith("/") else dest
                    added.append((target, ins))
            if ins.keyword != "RUN":
                continue
            calls = st.calls(ins)
            removals: list[str] = []
            for c in st.script(ins).commands:
                u = c.unwrapped()
                if u.name == "rm":
                    removals += [w for w in u.words[1:] if not w.startswith("-")]
            for call in calls:
                if call.manager == "apt" and call.action in ("purge", "remove"):
                    removals += [f"pkg:{p}" for p in call.packages]
                if call.manager == "apk" and call.action == "del":
                    removals += [f"pkg:{p}" for p in call.packages]
            hits: list[tuple[str, Instruction]] = []
            for r in removals:
                for path, origin in added:
                    if origin is ins:
                        continue
                    if _covers(r, path):
                        hits.append((r, origin))
                        break
            if hits:
                r, origin = hits[0]
                what = r[4:] if r.startswith("pkg:") else r
                st.add("cleanup-in-later-layer", ins,
                       f"RUN removes {what}, added by line {origin.line}: the bytes stay in that earlier layer",
                       removed=[h[0].removeprefix("pkg:") for h in hits][:10], added_line=origin.line,
                       remediation="Remove it in the same RUN that created it, or build it in another stage.")
            for call in calls:
                if call.action in ("install", "add"):
                    # not /var/cache/apt: Debian and Ubuntu images ship a docker-clean hook that empties it
                    added += [(f"pkg:{p.split('=', 1)[0]}", ins) for p in call.packages]
                if call.manager == "apt" and call.action == "update" and not removes_apt_lists(st, ins):
                    added.append(("/var/lib/apt/lists", ins))
                if call.manager == "pip" and call.action == "install" and not call.has_option("--no-cache-dir"):
                    added.append(("/root/.cache/pip", ins))
            for c in st.script(ins).commands:
                u = c.unwrapped()
                if u.name in ("curl", "wget"):
                    for i, w in enumerate(u.words):
                        if w in ("-o", "-O", "--output", "--output-document") and i + 1 < len(u.words):
                            added.append((u.words[i + 1], ins))
                if u.name == "git" and len(u.words) > 3 and u.words[1] == "clone":
                    added.append((u.words[-1], ins))


def _covers(removed: str, added: str) -> bool:
    """Does `rm removed` delete (part of) what `added` put there?"""

    if removed.startswith("pkg:") or added.startswith("pkg:"):
        return removed == added
    r = removed.rstrip("/")
    a = added.rstrip("/")
    if not r or r in ("/", "/*"):
        return False
    if fnmatch(a, r) or a == r or a.startswith(r + "/"):
        return True
    base = r[:-2] if r.endswith("/*") else None
    return base is not None and (a == base or a.startswith(base + "/"))


CHECKS: tuple[Check, ...] = (_check_consecutive_runs, _check_cleanup_later)
FIXERS: tuple[Fixer, ...] = ()
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "cleanup-in-later-layer": "moving the cleanup into the layer that added the files needs a human look at the RUN order",
    "consecutive-run": "merging RUNs trades cache granularity; left as written",
}
