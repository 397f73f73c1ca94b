"""RUN hygiene with no automatic fix: relative WORKDIR, sudo, curl | sh, the Docker socket."""

from __future__ import annotations

import re

from bot.dockerfile.parser import POSIX_SHELLS
from bot.dockerfile.rules.edits import Fixer
from bot.dockerfile.rules.state import Check, State


def _check_workdir(st: State) -> None:
    for ins in st.dockerfile.instructions:
        if ins.keyword != "WORKDIR":
            continue
        path = ins.arguments.strip().strip("\"'")
        if path.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", path):
            continue
        st.add("workdir-relative", ins, f"WORKDIR {path} is relative to whatever the base image set",
               remediation="Use an absolute path.")


def _check_run_hygiene(st: State) -> None:
    for ins in st.dockerfile.shell_runs():
        script = st.script(ins)
        commands = script.commands
        if any(c.name == "sudo" for c in commands):
            st.add("sudo", ins, remediation="Drop sudo (RUN is root until USER); use gosu/su-exec at run time.")
        for i, c in enumerate(commands):
            u = c.unwrapped()
            nxt = commands[i + 1] if i + 1 < len(commands) else None
            downloads = u.name in ("curl", "wget")
            if downloads and nxt is not None and nxt.joined_by == "|" and nxt.unwrapped().name in POSIX_SHELLS | {"python", "python3", "perl", "ruby", "node"}:
                st.add("curl-pipe-shell", ins, f"{u.name} … | {nxt.unwrapped().name}: an unverified script runs as root",
                       remediation="Download to a file, verify its checksum or signature, then run it.")
                break
            if u.name in POSIX_SHELLS and any(re.search(r"\$\((curl|wget)\b", w) for w in u.words):
                st.add("curl-pipe-shell", ins, f"{u.name} runs a script fetched inline: an unverified script runs as root",
                       remediation="Download to a file, verify its checksum or signature, then run it.")
                break


def _check_docker_socket(st: State) -> None:
    for ins in st.dockerfile.instructions:
        if "docker.sock" in ins.arguments or any("docker.sock" in (f.value or "") for f in ins.flags):
            st.add("docker-socket", ins, f"{ins.keyword} references the Docker socket: whoever holds it is root on the node",
                   remediation="Use a rootless builder or the registry API; never mount /var/run/docker.sock.")


CHECKS: tuple[Check, ...] = (_check_workdir, _check_run_hygiene, _check_docker_socket)
FIXERS: tuple[Fixer, ...] = ()
# Why `coroner fix` leaves a finding of these rules alone (said in its notes).
WHY_LEFT: dict[str, str] = {
    "workdir-relative": "the base image's working directory is not known here",
    "sudo": "removing sudo can change which user runs the command",
    "curl-pipe-shell": "the checksum of the downloaded script is not known here",
    "docker-socket": "removing the socket changes what the container can do; needs a human decision",
}
