"""dive's two figures, `efficiency` and `wastedBytes`, computed exactly as dive 0.13 computes them.

This is a faithful model of `dive/filetree/efficiency.go` and the trees it walks, quirks included,
so that Coroner's numbers can be put next to dive's and match to the byte:

- each layer is a tree built from its tar members (`AddPath`): parents created on the way carry an
  empty payload (size 0, not a directory); `.wh..wh..opq` members are dropped entirely, so opaque
  directories hide nothing from dive;
- only the leaves of each layer's tree are scored (a directory with children in that layer is not);
- a whiteout leaf `.wh.name` is scored under `name`: 0 bytes if the lower node was a file, the sum of
  the lower subtree if it was a directory (looked up in layers 0..i-1 stacked dive's way); a whiteout
  whose target dive cannot find aborts the rest of that layer's walk and leaves a -1 in the minimum;
- per path: cumulative = sum of the scored sizes, minimum = smallest; efficiency = sum(min)/sum(cum);
  wastedBytes = sum(cum) over the paths scored in 2 or more layers (the surviving copy counts too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.images.model import FileEntry

WHITEOUT_PREFIX = ".wh."
OPAQUE_PREFIX = ".wh..wh.."


class _Node:
    __slots__ = ("children", "size", "is_dir")

    def __init__(self, size: int = 0, is_dir: bool = False) -> None:
        self.children: dict[str, _Node] = {}
        self.size = size
        self.is_dir = is_dir

    def copy(self) -> _Node:
        clone = _Node(self.size, self.is_dir)
        clone.children = {name: child.copy() for name, child in self.children.items()}
        return clone


def _split(path: str) -> list[str]:
    return [name for name in path.strip("/").split("/") if name]


def _add_path(root: _Node, names: list[str], size: int, is_dir: bool) -> None:
    node = root
    last = len(names) - 1
    for idx, name in enumerate(names):
        child = node.children.get(name)
        if child is None:
            if name.startswith(OPAQUE_PREFIX):
                return
            child = node.children[name] = _Node()
        node = child
        if idx == last:
            node.size = size
            node.is_dir = is_dir


def _get(root: _Node, names: list[str]) -> _Node | None:
    node = root
    for name in names:
        node = node.children.get(name)  # type: ignore[assignment]
        if node is None:
            return None
    return node


def _subtree_size(node: _Node) -> int:
    total = node.size
    stack = list(node.children.values())
    while stack:
        current = stack.pop()
        total += current.size
        stack.extend(current.children.values())
    return total


def _leaf_path(names: list[str]) -> list[str]:
    last = names[-1]
    if last.startswith(WHITEOUT_PREFIX):
        last = last[len(WHITEOUT_PREFIX) :]
    return names[:-1] + [last]


class _Abort(Exception):
    pass


@dataclass(frozen=True)
class DiveFigures:
    efficiency: float
    wasted_bytes: int
    inefficient_paths: tuple[tuple[str, int, int], ...]  # (path, count, cumulative bytes), biggest first


class DiveEfficiency:
    """Feed layers in order with `add_layer`, then read `result()`."""

    def __init__(self) -> None:
        self._stacked: _Node | None = None
        self._first: _Node | None = None
        # path -> [node count, cumulative, minimum]
        self._paths: dict[str, list[int]] = {}

    def add_layer(self, entries: Iterable[FileEntry]) -> None:
        tree = _Node()
        for entry in entries:
            names = _split(entry.path)
            if names:
                _add_path(tree, names, entry.size_bytes, entry.kind == "dir")
        if self._first is None:
            self._first = tree
            self._stacked = tree.copy()  # StackTreeRange(trees, 0, -1): a copy of the first tree
        try:
            self._visit(tree, [])
        except _Abort:
            pass
        assert self._stacked is not None
        self._stack(self._stacked, tree, [])

    def _visit(self, node: _Node, names: list[str]) -> None:
        for name in sorted(node.children):
            child = node.children[name]
            child_names = names + [name]
            self._visit(child, child_names)
            if not child.children:
                self._score(child, child_names)

    def _score(self, node: _Node, names: list[str]) -> None:
        path_names = _leaf_path(names)
        path = "/" + "/".join(path_names)
        data = self._paths.get(path)
        if data is None:
            data = self._paths[path] = [0, 0, -1]
        if names[-1].startswith(WHITEOUT_PREFIX):
            assert self._stacked is not None
            previous = _get(self._stacked, [n for n in path_names if n])
            if previous is None:
                raise _Abort
            size = _subtree_size(previous) if previous.is_dir else 0
        else:
            size = node.size
        data[1] += size
        if data[2] < 0 or size < data[2]:
            data[2] = size
        data[0] += 1

    def _stack(self, lower: _Node, upper: _Node, names: list[str]) -> None:
        # dive's Tree.Stack: visit the upper tree child-first in name order, remove whiteout targets,
        # add (or overwrite the payload of) everything else.
        for name in sorted(upper.children):
            child = upper.children[name]
            child_names = names + [name]
            self._stack(lower, child, child_names)
            if name.startswith(WHITEOUT_PREFIX):
                target = _leaf_path(child_names)
                parent = _get(lower, target[:-1])
                if parent is not None:
                    parent.children.pop(target[-1], None)
            else:
                _add_path(lower, child_names, child.size, child.is_dir)

    def result(self) -> DiveFigures:
        minimum = 0
        cumulative = 0
        wasted = 0
        inefficient: list[tuple[str, int, int]] = []
        for path, (count, cum, low) in self._paths.items():
            minimum += low
            cumulative += cum
            if count >= 2:
                wasted += cum
                inefficient.append((path, count, cum))
        efficiency = 1.0 if cumulative == 0 else float(minimum) / float(cumulative)
        inefficient.sort(key=lambda item: (-item[2], item[0]))
        return DiveFigures(efficiency=efficiency, wasted_bytes=wasted, inefficient_paths=tuple(inefficient))
