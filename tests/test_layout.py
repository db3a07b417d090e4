"""The import graph of the project's own modules has no circle, counting the imports inside
functions too: a circle hidden by a function-level import still means that neither module can
be read, tested or moved without the other."""
from __future__ import annotations

from machinery.code_digest import CODE_FOLDERS, file_imports
from tests.conftest import PROJECT


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
    files = sorted(p.relative_to(PROJECT).as_posix() for folder in CODE_FOLDERS
                   for p in (PROJECT / folder).rglob("*.py"))
    assert len(files) > 50
    graph = {relative: file_imports(relative, PROJECT, CODE_FOLDERS) for relative in files}
    assert graph["arithmetic/traces.py"] >= {"arithmetic/lseries.py", "arithmetic/primes.py"}
    assert circles(graph) == []


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
