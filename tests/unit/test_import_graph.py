"""The import graph of `bot/`, read from the source with `ast`: no cycles, function-level imports included.

An import inside a function is still a dependency; hiding a cycle there only moves the failure to run
time. The one exemption is an import kept inside a function for start-up time, marked on its line with
`# lazy: start-up time`. Imports under `if TYPE_CHECKING:` are not run and are not edges.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY_MARKER = "# lazy: start-up time"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module of `bot` (the package itself for `from bot.x import name`)
    line: int
    in_function: bool
    lazy: bool  # marked with LAZY_MARKER

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_files(directory: Path, package: str) -> dict[str, Path]:
    """Module name -> file, for every .py under `directory` (a package named `package`)."""
    modules = {}
    for path in sorted(directory.rglob("*.py")):
        parts = [package, *path.relative_to(directory).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


# The packages the wheel ships, with the directory each comes from (pyproject maps the last two).
PACKAGES = {"bot": ROOT / "bot", "bot.playbooks": ROOT / "playbooks", "bot.migrations": ROOT / "migrations"}
MODULES: dict[str, Path] = {}
for _package, _directory in PACKAGES.items():
    MODULES.update(module_files(_directory, _package))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module that `name` is or lives in (`bot.x.attr` -> `bot.x`); None outside `modules`."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every import of one of `modules` that `path` (the module `module`) runs, at any depth."""
    text = path.read_text()
    lines = text.splitlines()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def targets(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            return
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:  # `from bot.x import y`: y is a submodule or a name in bot.x
            submodule = f"{base}.{alias.name}"
            yield submodule if submodule in modules else base

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    yield from walk_one(other, in_function)
                continue
            yield from walk_one(child, in_function)

    def walk_one(node: ast.AST, in_function: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            lazy = LAZY_MARKER in lines[node.lineno - 1]
            for name in targets(node):
                target = _known(name, modules)
                if target is not None and target != module:
                    yield Import(module, target, node.lineno, in_function, lazy)
        yield from walk(node, in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))

    yield from walk(ast.parse(text, filename=str(path)), False)


IMPORTS = [edge for module, path in MODULES.items() for edge in imports_of(module, path, MODULES)]


def find_cycles(edges: list[Import]) -> list[list[Import]]:
    """One cycle through each strongly connected group of modules, as the imports that close it."""
    graph: dict[str, list[Import]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(module: str) -> None:  # Tarjan's algorithm
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for edge in graph.get(module, []):
            if edge.target not in order:
                connect(edge.target)
                low[module] = min(low[module], low[edge.target])
            elif edge.target in on_stack:
                low[module] = min(low[module], order[edge.target])
        if low[module] == order[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in order:
            connect(module)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, list[Import]]) -> list[Import]:
    """A path from the group's first module back to itself, inside the group (breadth first: the shortest)."""
    start = min(group)
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for edge in graph.get(module, []):
            if edge.target == start:
                return [*paths[module], edge]
            if edge.target in group and edge.target not in paths:
                paths[edge.target] = [*paths[module], edge]
                queue.append(edge.target)
    raise AssertionError(f"no cycle found in {sorted(group)}")


def test_the_modules_of_bot_import_each_other_without_a_cycle() -> None:
    cycles = find_cycles([edge for edge in IMPORTS if not edge.lazy])
    described = ["\n  ".join(map(str, cycle)) for cycle in cycles]
    assert not cycles, "import cycles:\n  " + "\n\n  ".join(described)


def test_the_lazy_marker_is_only_on_imports_inside_functions() -> None:
    marked = [edge for edge in IMPORTS if edge.lazy and not edge.in_function]
    assert not marked, f"{LAZY_MARKER!r} on a module-level import: {', '.join(map(str, marked))}"


def test_the_composition_root_is_the_only_module_that_imports_both_the_readers_and_the_app() -> None:
    importers: dict[str, set[str]] = {}
    for edge in IMPORTS:
        importers.setdefault(edge.target, set()).add(edge.source)
    assert importers["bot.app"] & importers["bot.readers"] == {"bot.wiring"}
    # Only the entry points that run the whole bot build it: `serve` and the demo.
    assert importers["bot.wiring"] == {"bot.server", "bot.demo.replay"}


def test_the_checks_import_nothing_from_the_engine_that_runs_them() -> None:
    """The engine holds the registry of checks; a check that reached back into it would close a cycle
    between the two packages (CheckContext lives with the checks for that reason)."""
    back = [edge for edge in IMPORTS if edge.source.startswith("bot.checks.") and edge.target.startswith("bot.engine")]
    assert not back, ", ".join(map(str, back))


def test_a_cycle_is_found_and_named_through_a_function_level_import(tmp_path: Path) -> None:
    """The checker itself: a cycle closed inside a function is reported, unless the import is marked."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text("def late():\n    from pkg.a import A\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n")
    modules = module_files(package, "pkg")
    edges = [edge for module, path in modules.items() for edge in imports_of(module, path, modules)]
    (package / "b.py").write_text(f"def late():\n    from pkg.a import A  {LAZY_MARKER}\n")
    marked = [edge for module, path in modules.items() for edge in imports_of(module, path, modules)]
    assert [list(map(str, cycle)) for cycle in find_cycles(edges)] == [
        ["pkg.a:1 imports pkg.b", "pkg.b:2 imports pkg.a"]
    ]
    assert not any(edge.source == "pkg.c" for edge in edges)  # TYPE_CHECKING imports are not run
    assert find_cycles([edge for edge in marked if not edge.lazy]) == []


# -- nothing under bot/ exists for the tests alone -------------------------------------------------------

# Where the product starts: the `coroner` console script, and the packages loaded by path or by name
# (alembic runs every migration; playbooks are read as package data).
ENTRY_POINTS = {"bot.cli"} | {module for module in MODULES if module.startswith(("bot.migrations", "bot.playbooks"))}


def named_modules(module: str, path: Path) -> Iterator[str]:
    """Modules a module names in a string (`"bot.server:serve"` in the CLI's table, `-m bot.sim.server`,
    a package of data files): they are loaded by name, so they are reached as surely as an import."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value.partition(":")[0]
            if name in MODULES and name != module:
                yield name


def reachable_from(roots: set[str]) -> set[str]:
    edges: dict[str, set[str]] = {}
    for edge in IMPORTS:
        edges.setdefault(edge.source, set()).add(edge.target)
    for module, path in MODULES.items():
        edges.setdefault(module, set()).update(named_modules(module, path))
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")  # importing bot.x.y runs bot/__init__ and bot/x/__init__ first
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += edges.get(module, ())
    return seen


def test_every_module_of_bot_is_reached_from_an_entry_point() -> None:
    """A module only the tests import (a double, a helper) belongs in tests/; one nothing imports is dead."""
    tests = ROOT / "tests"
    test_modules = module_files(tests, "tests")
    used_by_tests = {edge.target for module, path in test_modules.items() for edge in imports_of(module, path, MODULES)}
    unreached = sorted(set(MODULES) - reachable_from(ENTRY_POINTS))
    only_tests = [module for module in unreached if module in used_by_tests]
    assert not only_tests, f"imported only by tests (move them under tests/): {', '.join(only_tests)}"
    assert not unreached, f"reached from no entry point (dead code?): {', '.join(unreached)}"
