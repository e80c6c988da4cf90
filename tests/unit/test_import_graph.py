"""No import cycle among dlcore's modules, lazy (function-level) imports included.

Every ``.py`` under ``dlcore/`` is parsed with ``ast`` and every import of a dlcore module becomes an edge:
``import dlcore.a.b`` and ``from dlcore.a import b`` (``b`` a submodule) reach ``dlcore.a.b``;
``from dlcore.a import name`` (``name`` defined in ``dlcore/a/__init__.py``) and ``import dlcore.a`` reach the
package ``dlcore.a``; relative imports are resolved first. Importing ``dlcore.a.b`` also runs the package
``dlcore.a`` first, so it is an edge to ``dlcore.a`` too, unless the importing module is itself inside
``dlcore.a`` (then that package is already being imported when the module runs; reaching it by name, as in
``from dlcore.a import name``, still counts).
"""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "dlcore"


def module_names(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (a package by its own name, for its ``__init__.py``)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_package(name: str, modules: Mapping[str, Path]) -> bool:
    return name in modules and modules[name].name == "__init__.py"


def _targets(node: ast.AST, module: str, modules: Mapping[str, Path]) -> list[str]:
    """The dlcore modules one import statement names (each is also reached through its parent packages)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if _is_package(module, modules) else module.split(".")[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in modules else base)
    return out


def _with_parents(target: str, module: str, modules: Mapping[str, Path]) -> set[str]:
    """``target`` and the packages above it that importing it runs (not those ``module`` is inside)."""
    parts = target.split(".")
    found = set()
    for i in range(2, len(parts) + 1):
        name = ".".join(parts[:i])
        inside = module == name or module.startswith(name + ".")
        if name in modules and (name == target or not inside):
            found.add(name)
    while target not in modules and "." in target:  # ``import dlcore.a.b.thing`` of a name, not a module
        target = target.rsplit(".", 1)[0]
    if target in modules and target != PACKAGE:
        found.add(target)
    return found


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its file (top level or inside functions)."""
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, name, modules):
                if target == package or target.startswith(package + "."):
                    graph[name] |= _with_parents(target, name, modules) - {name}
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node, or a node importing itself (Tarjan),
    each as a sorted list of names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def cycle_path(graph: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """One cycle inside ``component``, as the chain of imports that leads back to its start."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*paths[node], start]
            if nxt in members and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return component


def test_the_cycle_finder_finds_a_hand_made_cycle_and_nothing_in_a_tree() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c"], ["e"]]
    assert cycle_path(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_imports_are_read_from_function_bodies_relative_imports_and_package_inits(tmp_path: Path) -> None:
    pkg = tmp_path / "dlcore"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from dlcore.sub.inner import thing\n")
    (pkg / "sub" / "inner.py").write_text("from . import other\nthing = 1\n")
    (pkg / "sub" / "other.py").write_text("def f():\n    from dlcore.sub import thing\n")
    (pkg / "outer.py").write_text("import dlcore.sub.other\nfrom dlcore import outer2\n")
    (pkg / "outer2.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["dlcore.sub"] == {"dlcore.sub.inner"}
    assert graph["dlcore.sub.inner"] == {"dlcore.sub.other"}
    assert graph["dlcore.sub.other"] == {"dlcore.sub"}  # a lazy import of its own package's __init__
    assert graph["dlcore.outer"] == {"dlcore.sub", "dlcore.sub.other", "dlcore.outer2"}
    assert find_cycles(graph) == [["dlcore.sub", "dlcore.sub.inner", "dlcore.sub.other"]]


def test_dlcore_has_no_import_cycle() -> None:
    graph = import_graph()
    edges = sum(len(v) for v in graph.values())
    assert len(graph) > 40 and edges > 50, (len(graph), edges)  # the graph was read, not left empty
    assert graph["dlcore.training"] >= {"dlcore.jobs", "dlcore.store"}
    cycles = [" -> ".join(cycle_path(graph, c)) for c in find_cycles(graph)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
