"""Layer file lists read straight from a local engine's overlay2 diff directories.

`docker save` makes the engine export every layer to a temporary directory before it sends the first
byte (seconds for a big image). When Coroner runs on the engine's own host, as root, the same
information is on disk: each layer's diff directory holds exactly the files of that layer's tar.
This module lists them the way the engine's overlay2 driver tars them (moby `pkg/archive`,
`OverlayWhiteoutFormat`): lexical walk order, a directory before its contents, whiteouts stored as
0/0 character devices become `.wh.<name>`, an opaque directory (`trusted.overlay.opaque=y`) is
followed by `.wh..wh..opq`, and a repeated inode is a hardlink of size 0. Only metadata is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from typing import Any

from bot.images import classify
from bot.images.model import FileEntry
from bot.printable import printable

OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")


def layer_dirs(attrs: Mapping[str, Any]) -> list[str] | None:
    """The diff directories of an image's layers, bottom first, or None when not usable here."""
    driver = attrs.get("GraphDriver") or {}
    if driver.get("Name") != "overlay2":
        return None
    data = driver.get("Data") or {}
    upper = data.get("UpperDir")
    if not upper:
        return None
    lower = data.get("LowerDir") or ""
    dirs = list(reversed([d for d in lower.split(":") if d])) + [upper]
    n_layers = len((attrs.get("RootFS") or {}).get("Layers") or [])
    if len(dirs) != n_layers or not all(os.access(d, os.R_OK | os.X_OK) for d in dirs):
        return None
    return dirs


def _opaque(path: str) -> bool:
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _children(directory: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(directory) as iterator:
        return iter(sorted(iterator, key=lambda e: e.name))


def scan_diff(root: str) -> list[FileEntry]:
    """Entries of one diff directory, depth first in name order, as a tar of it lists them. Iterative:
    an image may hold a directory thousands of levels deep."""
    entries: list[FileEntry] = []
    seen_inodes: set[tuple[int, int]] = set()
    stack: list[tuple[Iterator[os.DirEntry[str]], str]] = [(_children(root), "")]
    while stack:
        children, prefix = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        name = printable(child.name)  # as the tar reader names it (`tarstream.normalise`)
        path = prefix + name
        info = child.stat(follow_symlinks=False)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            entries.append(FileEntry(path=path, size_bytes=0, kind="dir", mode=stat.S_IMODE(mode), uid=info.st_uid))
            if _opaque(child.path):
                entries.append(FileEntry(path=f"{path}/.wh..wh..opq", size_bytes=0, kind="file"))
            stack.append((_children(child.path), path + "/"))
        elif stat.S_ISCHR(mode) and info.st_rdev == 0:
            entries.append(FileEntry(path=prefix + ".wh." + name, size_bytes=0, kind="file"))
        elif stat.S_ISLNK(mode):
            entries.append(FileEntry(path=path, size_bytes=0, kind="symlink", mode=stat.S_IMODE(mode),
                                     uid=info.st_uid, link_target=printable(os.readlink(child.path))))
        elif stat.S_ISREG(mode):
            if info.st_nlink > 1:
                inode = (info.st_dev, info.st_ino)
                if inode in seen_inodes:
                    entries.append(FileEntry(path=path, size_bytes=0, kind="hardlink", mode=stat.S_IMODE(mode), uid=info.st_uid))
                    continue
                seen_inodes.add(inode)
            token = None
            if child.name in classify.PEEKED_NAMES and info.st_size <= classify.PEEK_MAX_BYTES:
                with open(child.path, "rb") as handle:
                    token = classify.holds_token(child.name, handle.read())
            entries.append(FileEntry(path=path, size_bytes=info.st_size, kind="file", mode=stat.S_IMODE(mode),
                                     uid=info.st_uid, token=token))
        else:
            entries.append(FileEntry(path=path, size_bytes=0, kind="other", mode=stat.S_IMODE(mode), uid=info.st_uid))
    return entries
