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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.deadline import NO_DEADLINE, Deadline, paced
from bot.images.model import FileEntry

WHITEOUT_PREFIX = ".wh."
OPAQUE_PREFIX = ".wh..wh.."


class _Node:
    __slots__ = ("children", "is_dir", "size")

    def __init__(self, size: int = 0, is_dir: bool = False) -> None:
        self.children: dict[str, _Node] = {}
        self.size = size
        self.is_dir = is_dir

    def copy(self) -> _Node:
        # Iterative: a layer may hold a directory thousands of levels deep.
        clone = _Node(self.size, self.is_dir)
        stack = [(self, clone)]
        while stack:
            source, target = stack.pop()
            for name, child in source.children.items():
                twin = target.children[name] = _Node(child.size, child.is_dir)
                stack.append((child, twin))
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

    def add_layer(self, entries: Iterable[FileEntry], *, deadline: Deadline = NO_DEADLINE) -> None:
        tree = _Node()
        for entry in paced(entries, deadline, "scoring a layer as dive does"):
            names = _split(entry.path)
            if names:
                _add_path(tree, names, entry.size_bytes, entry.kind == "dir")
        if self._first is None:
            self._first = tree
            self._stacked = tree.copy()  # StackTreeRange(trees, 0, -1): a copy of the first tree
        try:
            self._visit(tree)
        except _Abort:
            pass
        assert self._stacked is not None
        deadline.check("stacking a layer as dive does")
        self._stack(self._stacked, tree)

    def _visit(self, root: _Node) -> None:
        """Score the leaves of `root` depth first, children in name order (dive's VisitDepthChildFirst)."""
        stack: list[tuple[_Node, list[str], Iterator[str]]] = [(root, [], iter(sorted(root.children)))]
        while stack:
            node, names, pending = stack[-1]
            name = next(pending, None)
            if name is None:
                stack.pop()
                continue
            child = node.children[name]
            if child.children:
                stack.append((child, names + [name], iter(sorted(child.children))))
            else:
                self._score(child, names + [name])

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

    @staticmethod
    def _stack(lower: _Node, upper: _Node) -> None:
        # dive's Tree.Stack: visit the upper tree child-first in name order, remove whiteout targets,
        # add (or overwrite the payload of) everything else. A node is applied once its subtree is.
        stack: list[tuple[_Node, list[str], Iterator[str]]] = [(upper, [], iter(sorted(upper.children)))]
        while stack:
            node, names, pending = stack[-1]
            name = next(pending, None)
            if name is not None:
                child = node.children[name]
                stack.append((child, names + [name], iter(sorted(child.children))))
                continue
            stack.pop()
            if not names:
                continue
            if names[-1].startswith(WHITEOUT_PREFIX):
                target = _leaf_path(names)
                parent = _get(lower, target[:-1])
                if parent is not None:
                    parent.children.pop(target[-1], None)
            else:
                _add_path(lower, names, node.size, node.is_dir)

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
