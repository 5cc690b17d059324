"""The package's import graph has no cycle (issue 14: cli → ui/app → demo → cli was one).

Every import that runs counts: those at module level and those inside functions (the
lazy imports that keep start-up fast); a cycle through a function-level import works
only because of when each function first runs. Imports under ``if TYPE_CHECKING:``
never run and are left out (``type_checking=True`` counts them too: the demo cycle was
also one of those). Read from the source with ``ast``: nothing is imported.

An edge goes to the module named: ``from mailgui.core import log`` is an edge to
``mailgui.core.log``, ``from mailgui.ui.context import AppContext`` one to
``mailgui.ui.context``. The implicit import of a module's parent packages is not an
edge (it would make every package whose ``__init__`` imports a submodule a cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import mailgui

PACKAGE = Path(mailgui.__file__).parent


def modules(root: Path) -> dict[str, Path]:
    """Dotted name → source file of every module in the package at ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, at any depth; not those under
    ``if TYPE_CHECKING:`` unless ``type_checking``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def imported(
    name: str, path: Path, known: Iterable[str], *, type_checking: bool = False
) -> set[str]:
    """The package modules that the module ``name`` (at ``path``) imports anywhere."""
    known = set(known)
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path)), type_checking):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            # A name that is a submodule is an edge to it; else to the module itself.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            while target not in known and "." in target:  # `import a.b.c` of a name in a.b
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                out.add(target)
    return out


def graph(root: Path, *, type_checking: bool = False) -> dict[str, set[str]]:
    found = modules(root)
    return {
        name: imported(name, path, found, type_checking=type_checking)
        for name, path in found.items()
    }


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's
    algorithm, iterative), each as a path: a cycle to show in the failure."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(_path_through(sorted(component), edges))
    return found


def _path_through(component: list[str], edges: Mapping[str, set[str]]) -> list[str]:
    """One cycle inside ``component``, from its first module back to it."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        step = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child == start:
                    path = [start]
                    while node != start:
                        path.append(node)
                        node = previous[node]
                    return [start, *reversed(path[1:]), start]
                if child not in previous:
                    previous[child] = node
                    step.append(child)
        frontier = step
    raise AssertionError(f"no cycle in {component}")  # a component always has one


def test_mailgui_has_no_import_cycle() -> None:
    edges = graph(PACKAGE)
    assert "mailgui.cli" in edges and "mailgui.ui.app" in edges  # the walk found the tree
    assert "mailgui.ui.app" in edges["mailgui.cli"]  # function-level imports count
    found = cycles(edges)
    assert not found, "import cycles: " + "; ".join(" → ".join(c) for c in found)


def test_core_imports_only_core() -> None:
    """The layers of DESIGN.md ("Architecture"): core never imports the CLI or the GUI."""
    edges = graph(PACKAGE)
    outside = {
        (name, target)
        for name, targets in edges.items()
        if name.startswith("mailgui.core")
        for target in targets
        if not target.startswith("mailgui.core") and target != "mailgui"
    }
    assert not outside


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    """The check itself: the shape of issue 14's cycle, in a package of its own."""
    pkg = tmp_path / "pkg"
    (pkg / "ui").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ui" / "__init__.py").write_text("")
    (pkg / "cli.py").write_text("def gui():\n    from pkg.ui.app import run\n")
    (pkg / "ui" / "app.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..demo import Server\n"
        "def run(demo):\n    if demo:\n        from .. import demo\n"
    )
    (pkg / "demo.py").write_text("def main():\n    from pkg import cli\n")
    (pkg / "leaf.py").write_text("import pkg.ui.app\n")
    edges = graph(pkg)
    assert edges["pkg.ui.app"] == {"pkg.demo"}  # relative, inside a function
    assert edges["pkg.demo"] == {"pkg.cli"}  # `from pkg import cli`: the submodule
    assert edges["pkg.leaf"] == {"pkg.ui.app"}
    assert cycles(edges) == [["pkg.cli", "pkg.ui.app", "pkg.demo", "pkg.cli"]]
    (pkg / "demo.py").write_text("def main():\n    pass\n")
    assert cycles(graph(pkg)) == []


def test_imports_for_type_checking_only_count_when_asked(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from pkg import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nelse:\n    import pkg.a\n"
    )
    assert graph(pkg)["pkg.a"] == set() and graph(pkg)["pkg.b"] == {"pkg.a"}  # else: runs
    assert cycles(graph(pkg)) == []
    assert cycles(graph(pkg, type_checking=True)) == [["pkg.a", "pkg.b", "pkg.a"]]
