"""The `flash` package's imports run one way: no module imports itself through others, and a lower
layer (server, streaming) never imports a higher one (streaming, the app).

Why: a cycle hides which module a change belongs to and breaks as soon as someone moves an import
to module level; a function-level import that closes a circle is the same circle, only later.

The graph is built statically from the source (ast), so it sees every import, including ones
inside functions that a test run may never reach:
- module-level and function-level `import`/`from ... import` statements, relative ones resolved
  against the importing module's package; `from pkg import name` counts as importing the
  submodule `pkg.name` when there is one, else `pkg` itself;
- imports under `if TYPE_CHECKING:` are left out: they never run, and annotations naming each
  other's classes (a bus and the downlinks it serves) are not a dependency of the code;
- importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first; that implicit edge is left
  out (every module would otherwise reach `flash/__init__.py`, which imports the whole app).
"""

from __future__ import annotations

import ast
from pathlib import Path

import flash

PACKAGE = Path(flash.__file__).resolve().parent

# Lowest first: a module in one of these packages imports nothing from a later one (at runtime).
# The streaming layer's rooms come in its own order (flash/streaming/__init__.py); its host protocol
# and package root sit above them.
# Modules outside them (the public `flash/__init__.py`, components, pages...) are free to import
# any layer.
LAYERS = [
    "flash.storage",
    "flash.server",
    "flash.streaming.declare",
    "flash.streaming.bus",
    "flash.streaming.run",
    "flash.streaming.wire",
    "flash.streaming",
    "flash.app",
]
# The same without the rooms: what tests/unit/test_host_protocol.py holds even for annotations (rooms
# may name each other's classes in `if TYPE_CHECKING:` imports: a bus and the downlinks it serves).
TIERS = ["flash.storage", "flash.server", "flash.streaming", "flash.app"]

# Edges that break a rule today, each with why it is still there. The test fails once one is gone,
# so that the entry is removed with it. Nothing else removes entries.
KNOWN: dict[tuple[str, str], str] = {}


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, package: str, modules: dict[str, tuple[Path, bool]]) -> list[str]:
    """The flash modules one import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target for alias in node.names]


def import_graph(root: Path = PACKAGE, type_checking: bool = False) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the package at `root`: line of the first such import}.
    `type_checking`: with the imports under `if TYPE_CHECKING:` too (tests/unit/test_host_protocol.py:
    a lower layer does not even name a higher one in its annotations)."""
    modules = _modules(root)
    graph: dict[str, dict[str, int]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        edges = graph.setdefault(name, {})
        pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"), filename=str(path))]
        while pending:
            node = pending.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child) and not type_checking:
                    pending.extend(child.orelse)  # the `else:` branch runs
                    continue
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in _imported(child, package, modules):
                        if target in modules and target != name:
                            edges.setdefault(target, child.lineno)
                pending.append(child)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), as a path a -> ... -> a."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:  # iterative: no recursion limit to think about
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_path_through(group, graph) for group in groups]


def _path_through(group: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """A shortest cycle from the group's first module back to itself (breadth first)."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node]):
                if target not in group:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {sorted(group)}")  # cannot happen for a Tarjan group


def _layer(module: str, layers: list[str] = LAYERS) -> int | None:
    for rank, layer in enumerate(layers):
        if module == layer or module.startswith(layer + "."):
            return rank
    return None


def _describe(path: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(path, path[1:])) + f" -> {path[-1]}"


def test_the_flash_package_has_no_import_cycle():
    graph = import_graph()
    allowed = {
        module: {target: line for target, line in targets.items() if (module, target) not in KNOWN}
        for module, targets in graph.items()
    }
    found = cycles(allowed)
    assert not found, "import cycles in flash/ (break each one):\n" + "\n".join(_describe(p, graph) for p in found)


def upward_imports(graph: dict[str, dict[str, int]], layers: list[str] = LAYERS) -> list[tuple[str, str, int]]:
    """(module, imported module, line) of each import of a higher layer (or of the package root,
    which imports the app) by a module in a lower one."""
    upward = sorted(
        (module, target, line)
        for module, targets in graph.items()
        for target, line in targets.items()
        if (low := _layer(module, layers)) is not None and (high := _layer(target, layers)) is not None and high > low
    )
    upward += sorted(
        (module, "flash", line)
        for module, targets in graph.items()
        for target, line in targets.items()
        if target == "flash" and _layer(module, layers) is not None
    )
    return upward


def test_no_layer_imports_a_higher_one():
    upward = [edge for edge in upward_imports(import_graph()) if edge[:2] not in KNOWN]
    assert not upward, (
        "imports against the layers "
        + " < ".join(LAYERS)
        + ":\n"
        + "\n".join(f"{module} imports {target} (line {line})" for module, target, line in upward)
    )


def test_every_known_exception_still_exists():
    """An entry in KNOWN whose import is gone is removed with it, so the list stays true."""
    graph = import_graph()
    stale = [edge for edge in KNOWN if edge[1] not in graph.get(edge[0], {})]
    assert not stale, f"these KNOWN entries no longer exist; remove them: {stale}"


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    """The checker itself, on a small package: a function-level relative import closes a cycle,
    `from . import sub` is an edge to the submodule, a TYPE_CHECKING import is no edge."""
    package = tmp_path / "toy"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import a\n")
    (package / "a.py").write_text("from .inner import b\n")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n\ndef f():\n    from . import c\n"
    )
    (package / "inner" / "c.py").write_text("import toy.a\n")
    assert import_graph(package, type_checking=True)["toy.inner.b"] == {"toy.a": 3, "toy.inner.c": 6}
    graph = import_graph(package)
    assert graph["toy"] == {"toy.a": 1}
    assert graph["toy.a"] == {"toy.inner.b": 1}
    assert graph["toy.inner.b"] == {"toy.inner.c": 6}
    assert graph["toy.inner.c"] == {"toy.a": 1}
    assert cycles(graph) == [["toy.a", "toy.inner.b", "toy.inner.c", "toy.a"]]
    (package / "inner" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import c\n")
    assert cycles(import_graph(package)) == []
