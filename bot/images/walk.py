"""The layer walk: one streaming pass over the layers, in order, that builds the final filesystem
the way a container runtime sees it (OCI whiteouts and opaque directories), and summarises each layer.

Per layer it keeps only summaries (largest meaningful paths, bytes per culprit), never the file data,
so memory grows with the number of files, not with their size. dive's figures are fed from the same
pass (`bot.images.dive`).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.deadline import NO_DEADLINE, Deadline, paced
from bot.images import classify
from bot.images.dive import OPAQUE_PREFIX, WHITEOUT_PREFIX, DiveEfficiency, DiveFigures
from bot.images.model import FileEntry, LayerRef

TOP_PATHS = 6
# A child holding at least this share of its directory is worth looking into on its own.
SIGNIFICANT_SHARE = 0.10
MAX_DEPTH = 8
# A directory whose size is spread over more children than this is reported as one path.
MAX_SPLIT = 4


@dataclass(frozen=True)
class PathSize:
    path: str
    bytes: int
    files: int

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "bytes": self.bytes, "files": self.files}


@dataclass
class Group:
    """Bytes in one layer that belong to one culprit (a `.git` directory, a cache, a secret file)."""

    bytes: int = 0
    files: int = 0
    detail: str | None = None
    # The later layer that deleted (or overwrote) this path: the bytes still ship in this layer, but a
    # look inside a running container will not find them. None while the path is visible.
    hidden_by: int | None = None


@dataclass
class LayerWalk:
    ref: LayerRef
    walked: bool = False
    content_bytes: int = 0
    file_count: int = 0
    top_paths: tuple[PathSize, ...] = ()
    hidden_bytes: int = 0  # bytes of this layer the final filesystem does not show
    hidden_by: dict[int, int] = field(default_factory=dict)  # later layer -> bytes it deleted/overwrote
    deleted: list[str] = field(default_factory=list)  # whiteout targets, for reconstructed Dockerfiles
    opaque: list[str] = field(default_factory=list)  # directories this layer made opaque ("" is the root)
    groups: dict[str, dict[str, Group]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def index(self) -> int:
        return self.ref.index


@dataclass
class WalkResult:
    layers: list[LayerWalk]
    reclaimable_bytes: int
    final_bytes: int
    dive: DiveFigures | None
    final_groups: dict[str, dict[str, dict[int, Group]]]  # category -> root -> layer -> bytes, visible only
    complete: bool


class _View:
    __slots__ = ("children", "layer", "size")

    def __init__(self, layer: int, size: int, is_dir: bool) -> None:
        self.children: dict[str, _View] | None = {} if is_dir else None
        self.layer = layer
        self.size = size


def _files(node: _View) -> Iterable[_View]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.children is None:
            yield current
        else:
            stack.extend(current.children.values())


class _Filesystem:
    """The merged view. Hiding a node charges its bytes to the layer that wrote them."""

    def __init__(self, walks: list[LayerWalk]) -> None:
        self.root = _View(-1, 0, True)
        self._walks = walks

    def _hide(self, node: _View, by: int) -> None:
        for leaf in _files(node):
            if leaf.size and leaf.layer >= 0:
                owner = self._walks[leaf.layer]
                owner.hidden_bytes += leaf.size
                owner.hidden_by[by] = owner.hidden_by.get(by, 0) + leaf.size

    def _dir(self, names: list[str], layer: int, *, create: bool) -> _View | None:
        node = self.root
        for name in names:
            assert node.children is not None
            child = node.children.get(name)
            if child is None or child.children is None:
                if not create:
                    return None
                if child is not None:  # a file where a directory now goes: the file is gone
                    self._hide(child, layer)
                child = node.children[name] = _View(layer, 0, True)
            node = child
        return node

    def find(self, path: str) -> _View | None:
        node: _View | None = self.root
        for name in path.split("/"):
            if node is None or node.children is None:
                return None
            node = node.children.get(name)
        return node

    def delete(self, path: str, layer: int) -> None:
        parent_path, name = posixpath.split(path)
        parent = self._dir(parent_path.split("/") if parent_path else [], layer, create=False)
        if parent is None or parent.children is None:
            return
        if name == OPAQUE_PREFIX + "opq":
            for child in parent.children.values():
                self._hide(child, layer)
            parent.children.clear()
        elif name.startswith(WHITEOUT_PREFIX):
            target = parent.children.pop(name[len(WHITEOUT_PREFIX) :], None)
            if target is not None:
                self._hide(target, layer)

    def add(self, entry: FileEntry, layer: int) -> None:
        parent_path, name = posixpath.split(entry.path)
        parent = self._dir(parent_path.split("/") if parent_path else [], layer, create=True)
        assert parent is not None and parent.children is not None
        existing = parent.children.get(name)
        is_dir = entry.kind == "dir"
        if existing is not None:
            if is_dir and existing.children is not None:
                return  # same directory, new metadata: its lower children stay visible
            self._hide(existing, layer)
        parent.children[name] = _View(layer, entry.size_bytes, is_dir)


def _is_whiteout(path: str) -> bool:
    return path.rpartition("/")[2].startswith(WHITEOUT_PREFIX)


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


def _is_marker_dir(path: str, venvs: set[str]) -> bool:
    name = posixpath.basename(path)
    if name in classify.VCS_DIRS or name in classify.VENV_DIRS or name in classify.DEPENDENCY_DIRS:
        return True
    if path in venvs:
        return True
    if classify.toolchain_root(path) == path:
        return True
    return classify.cache_root(path + "/x") == path


def top_paths(entries: list[FileEntry], *, limit: int = TOP_PATHS, deadline: Deadline = NO_DEADLINE) -> tuple[PathSize, ...]:
    """The largest paths of a layer, summed up to the directory that explains them."""
    sizes: dict[str, list[int]] = {}
    children: dict[str, set[str]] = defaultdict(set)
    venvs: set[str] = set()
    for entry in paced(entries, deadline, "summing a layer's paths"):
        if entry.kind == "dir" or _is_whiteout(entry.path):
            continue
        path = entry.path
        if path.endswith("pyvenv.cfg") and path.rpartition("/")[2] == "pyvenv.cfg":
            venvs.add(_dirname(path))
        node = sizes.setdefault(path, [0, 0])
        node[0] += entry.size_bytes
        node[1] += 1
        child = path
        parent = _dirname(path)
        while True:
            children[parent].add(child)
            agg = sizes.setdefault(parent, [0, 0])
            agg[0] += entry.size_bytes
            agg[1] += 1
            if not parent:
                break
            child, parent = parent, _dirname(parent)
    total = sizes.get("", [0, 0])[0]
    if total <= 0:
        return ()
    picked: list[str] = []
    to_explain = [("", 0)]
    while to_explain:
        directory, depth = to_explain.pop()
        own = sizes[directory][0]
        big = [c for c in children.get(directory, ()) if sizes[c][0] > 0 and sizes[c][0] >= SIGNIFICANT_SHARE * own]
        # Stop at a directory that no single child explains, and at one whose weight is several plain
        # files side by side (three CSVs are "the test data directory", 400 MB, not three lines).
        leaves_only = len(big) >= 2 and all(c not in children for c in big)
        if not big or (directory and (len(big) > MAX_SPLIT or leaves_only)):
            if directory:
                picked.append(directory)
            continue
        for child in big:
            if child not in children or depth >= MAX_DEPTH or _is_marker_dir(child, venvs):
                picked.append(child)
            else:
                to_explain.append((child, depth + 1))
    ranked = sorted(picked, key=lambda p: (-sizes[p][0], p))[:limit]
    return tuple(PathSize(path=p, bytes=sizes[p][0], files=sizes[p][1]) for p in ranked)


def _add(walk: LayerWalk, category: str, key: str, size: int, detail: str | None = None) -> None:
    group = walk.groups[category].get(key)
    if group is None:
        group = walk.groups[category][key] = Group(detail=detail)
    group.bytes += size
    group.files += 1


# Cheap tests that rule a path out of the slower classifiers (most files of a big layer are neither).
_VCS_MARKERS = tuple(f"{d}/" for d in classify.VCS_DIRS)
_CACHE_HINTS = ("var/", ".cache/", ".npm/")


def _classify_layer(walk: LayerWalk, entries: list[FileEntry], data_file_min: int) -> None:
    venvs = tuple(
        _dirname(e.path) + "/" for e in entries if e.path.endswith("pyvenv.cfg") and e.path.rpartition("/")[2] == "pyvenv.cfg"
    )
    for entry in entries:
        path = entry.path
        if entry.kind == "dir":
            continue
        name = path.rpartition("/")[2]
        if name.startswith(WHITEOUT_PREFIX):
            continue
        size = entry.size_bytes
        if any(marker in path for marker in _VCS_MARKERS) or name in classify.VCS_DIRS:
            root = classify.vcs_root(path)
            if root:
                _add(walk, "vcs", root, size)
                continue
        venv = next((v[:-1] for v in venvs if path.startswith(v)), None) if venvs else None
        dep = venv or classify.dependency_root(path)
        if dep and not classify.is_system(dep):
            _add(walk, "dependencies", dep, size)
        secret = classify.secret_kind(path, entry.token)
        if secret:
            _add(walk, "secret", path, size, secret)
        if size >= data_file_min and classify.is_data_file(path):
            _add(walk, "data", path, size)
        if any(hint in path for hint in _CACHE_HINTS):
            cache = classify.cache_root(path)
            if cache:
                _add(walk, "cache", cache, size)
        if entry.mode and entry.mode & classify.SETID_BITS and entry.kind in ("file", "hardlink"):
            _add(walk, "setuid", path, size, f"{entry.mode & 0o7777:04o}")


# Culprits that matter whether or not the final filesystem still shows them, so each is told apart.
_LOOKED_UP = ("secret", "vcs", "setuid")


def _hidden_by(path: str, position: int, walks: list[LayerWalk], node: _View | None) -> int | None:
    """The later layer that hid `path`: the one whose copy is on top now, or the first whose whiteout or
    opaque directory names the path or a directory above it."""
    if node is not None:
        return node.layer
    for later in range(position + 1, len(walks)):
        gone = walks[later].deleted + walks[later].opaque
        if any(path == g or path.startswith(g + "/") or not g for g in gone):
            return later
    return None


def _mark_hidden(fs: _Filesystem, walks: list[LayerWalk]) -> None:
    for position, walk in enumerate(walks):
        for category in _LOOKED_UP:
            for path, group in (walk.groups.get(category) or {}).items():
                node = fs.find(path)
                # A file is visible while this layer's copy is the one on top; a directory while it exists.
                if node is None or (node.children is None and node.layer != position):
                    group.hidden_by = _hidden_by(path, position, walks, node)


def walk_layers(
    layers: Iterable[tuple[LayerRef, Iterable[FileEntry] | None]],
    *,
    data_file_min: int = 1 << 20,
    with_dive: bool = True,
    deadline: Deadline = NO_DEADLINE,
) -> WalkResult:
    """Walk layers in order. A layer whose contents are None (not read: budget, recorded evidence) keeps
    its reader-given size and makes the totals incomplete. A path's depth costs time in every pass, so
    the passes check `deadline` as they go (raising `DeadlineExceeded`)."""
    walks: list[LayerWalk] = []
    fs = _Filesystem(walks)
    dive = DiveEfficiency() if with_dive else None
    complete = True
    for position, (ref, contents) in enumerate(layers):
        walk = LayerWalk(ref=ref)
        walks.append(walk)
        if contents is None:
            complete = False
            continue
        entries = list(contents)
        walk.walked = True
        walk.file_count = sum(1 for e in entries if e.kind != "dir" and not _is_whiteout(e.path))
        walk.content_bytes = sum(e.size_bytes for e in entries)
        for entry in paced(entries, deadline, "applying a layer's whiteouts"):
            if _is_whiteout(entry.path):
                fs.delete(entry.path, position)
                parent, name = posixpath.split(entry.path)
                if name.startswith(OPAQUE_PREFIX):
                    walk.opaque.append(parent)
                else:
                    walk.deleted.append(posixpath.join(parent, name[len(WHITEOUT_PREFIX) :]))
        for entry in paced(entries, deadline, "merging a layer"):
            if not _is_whiteout(entry.path):
                fs.add(entry, position)
        walk.top_paths = top_paths(entries, deadline=deadline)
        _classify_layer(walk, entries, data_file_min)
        if dive is not None:
            dive.add_layer(entries, deadline=deadline)
    _mark_hidden(fs, walks)
    final_groups: dict[str, dict[str, dict[int, Group]]] = defaultdict(lambda: defaultdict(dict))
    final_bytes = 0
    stack: list[tuple[str, _View]] = [("", fs.root)]
    while stack:
        path, node = stack.pop()
        if node.children is None:
            final_bytes += node.size
            root = classify.toolchain_root(path)
            if root and node.layer >= 0:
                group = final_groups["toolchain"][root].setdefault(node.layer, Group())
                group.bytes += node.size
                group.files += 1
            continue
        for name, child in node.children.items():
            stack.append((f"{path}/{name}" if path else name, child))
    reclaimable = sum(w.hidden_bytes for w in walks)
    return WalkResult(
        layers=walks,
        reclaimable_bytes=reclaimable,
        final_bytes=final_bytes,
        dive=dive.result() if dive is not None and complete else None,
        final_groups=final_groups,
        complete=complete,
    )
