"""The import graph of the project's own modules has no circle, counting the imports inside
functions too: a circle hidden by a function-level import still means that neither module can
be read, tested or moved without the other."""
from __future__ import annotations

import shutil

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


def project_graph() -> dict[str, set[str]]:
    """Each file of the project's packages -> the project files it imports anywhere."""
    files = sorted(p.relative_to(PROJECT).as_posix() for folder in CODE_FOLDERS
                   for p in (PROJECT / folder).rglob("*.py"))
    return {relative: file_imports(relative, PROJECT, CODE_FOLDERS) for relative in files}


def test_no_import_circle_function_level_imports_included():
    graph = project_graph()
    assert len(graph) > 50
    assert graph["arithmetic/traces.py"] >= {"arithmetic/lseries.py", "arithmetic/primes.py"}
    assert circles(graph) == []


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def closure(start: str, root=PROJECT) -> set[str]:
    """Every project file ``start`` imports, directly or through other project files,
    function-level imports included (``start`` itself left out unless a circle leads back)."""
    pending, seen = list(file_imports(start, root, CODE_FOLDERS)), set()
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(file_imports(current, root, CODE_FOLDERS))
    return seen


def outside_the_schema(root=PROJECT) -> list[str]:
    """The files of models/ and sources/ that the params schema imports."""
    return sorted(f for f in closure("machinery/params.py", root)
                  if f.startswith(("models/", "sources/")))


def test_the_params_schema_loads_no_model_and_no_source():
    """params.yaml is checked before any stage starts, by every stage and the dashboard: the
    schema reads the vocabulary it checks (targets, laws, the expression language, a
    PostgreSQL URI) from machinery/ and arithmetic/schemas.py, never from the code that fits
    models or reads sources, which would load LightGBM, PARI or psycopg with it."""
    assert {"machinery/expression.py", "arithmetic/schemas.py"} <= closure("machinery/params.py")
    assert outside_the_schema() == []


def test_an_import_of_a_model_inside_a_function_is_found(tmp_path):
    for folder in CODE_FOLDERS:
        shutil.copytree(PROJECT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "machinery/params.py", "a") as handle:
        handle.write("\n\ndef _later():\n    from models.laws import LAWS\n    return LAWS\n")
    assert "models/laws.py" in outside_the_schema(tmp_path)
    assert "models/gbm.py" in outside_the_schema(tmp_path)        # through models.laws


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The imports from a package into one of a later layer (:data:`CODE_FOLDERS`' order)."""
    layer = {folder: index for index, folder in enumerate(CODE_FOLDERS)}
    return sorted((source, target) for source, targets in graph.items() for target in targets
                  if layer[target.split("/")[0]] > layer[source.split("/")[0]])


def test_no_package_imports_from_a_later_layer():
    assert upward_imports(project_graph()) == []
    assert upward_imports({"arithmetic/a.py": {"models/b.py"}}) == [("arithmetic/a.py",
                                                                      "models/b.py")]
