"""The import graph of the project's own modules has no circle, counting the imports inside
functions too: a circle hidden by a function-level import still means that neither module can
be read, tested or moved without the other."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT

#: The folders of the project's modules (tests and benchmarks import them; nothing imports those).
FOLDERS = ("arithmetic", "models", "pipeline", "reporting", "dashboard")


def module_path(name: str) -> str | None:
    """The project file of a dotted module name, or None for a module that is not ours."""
    path = Path(*name.split("."))
    if path.parts[0] in FOLDERS:
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if (PROJECT / candidate).is_file():
                return candidate.as_posix()
    return None


def imports(relative: str) -> set[str]:
    """The project files that one file imports anywhere in its body (packages' empty
    ``__init__`` left out)."""
    found = set()
    for node in ast.walk(ast.parse((PROJECT / relative).read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(path for path in map(module_path, names)
                     if path and not path.endswith("__init__.py") and path != relative)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_function_level_imports_included():
    files = sorted(p.relative_to(PROJECT).as_posix() for folder in FOLDERS
                   for p in (PROJECT / folder).rglob("*.py"))
    assert len(files) > 50
    graph = {relative: imports(relative) for relative in files}
    assert graph["arithmetic/traces.py"] >= {"arithmetic/lseries.py", "arithmetic/primes.py"}
    assert circles(graph) == []


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
