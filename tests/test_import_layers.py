"""The package's modules import each other in one direction only.

Every import counts, also one inside a function: a cycle through a
function-level import is still a pair of modules that cannot be read, or
changed, one without the other. Imports under ``if TYPE_CHECKING:`` are for
annotations and may point back.
"""

from __future__ import annotations

import ast
import pathlib

import pyev

PACKAGE = pathlib.Path(pyev.__file__).parent
ROOT = PACKAGE.parent


def modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _under_type_checking(parents: list[ast.AST]) -> bool:
    return any(isinstance(p, ast.If) and "TYPE_CHECKING" in ast.unparse(p.test) for p in parents)


def imports_of(name: str, path: pathlib.Path, known: dict[str, pathlib.Path]) -> set[str]:
    """The package modules ``name`` imports at run time (module or function level)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    stack: list[tuple[ast.AST, list[ast.AST]]] = [(ast.parse(path.read_text()), [])]
    while stack:
        node, parents = stack.pop()
        for child in ast.iter_child_nodes(node):
            chain = [*parents, node]
            if isinstance(child, ast.Import) and not _under_type_checking(chain):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and not _under_type_checking(chain):
                if child.level:
                    base = package[: len(package) - child.level + 1]
                    target = ".".join(base + (child.module.split(".") if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:
                    submodule = f"{target}.{alias.name}"
                    found.add(submodule if submodule in known else target)
            stack.append((child, chain))
    return {m for m in found if m in known and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert sum(len(targets) for targets in graph.values()) > 30  # the scan sees the package's imports
    found = cycles(graph)
    detail = [[f"{m} -> {sorted(graph[m] & set(c))}" for m in c] for c in found]
    assert found == [], f"import cycles: {detail}"


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
