"""Digests for resumable results: of files' contents, and of the code a stage runs.

A stage's code is the *import closure* of its module: every project file it imports, directly
or through other project modules (``import a.b``, ``from a.b import c`` with ``c`` a module or
a name; read from the source by :mod:`ast`, nothing is executed). dvc.yaml must declare that
closure as each stage's deps (``tests/test_dvc_deps.py``), and a stage's resume keys hash it
(:func:`code_digest`), so a result is never reused after any code that computed it changed.
``machinery/params.py`` is left out of every closure: it validates params.yaml, whose values each
stage tracks itself (dvc.yaml's ``params:``, and the params in each resume key), and a new
section must not invalidate every result.
"""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

#: The project's root directory (the parent of the ``machinery`` package).
PROJECT = Path(__file__).resolve().parents[1]
#: The packages whose modules a stage can run, in the order of their layers: a module imports
#: only from its own package and those before it (docs/layout.md; tests/test_layout.py).
PACKAGES = ("arithmetic", "machinery", "sources", "models", "reporting", "pipeline")
#: Every package of the project's own code: the stages' packages, then the dashboard.
CODE_FOLDERS = PACKAGES + ("dashboard",)
#: Project files that are no stage's code (see the module docstring).
NOT_A_DEPENDENCY = frozenset({"machinery/params.py"})


def source_digest(*paths: Path | str) -> str:
    """sha256 of files' contents in the order given (the code that computes a result, or its
    input tables), for the keys of resumable results; each file is streamed, so a table of
    gigabytes is never held."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()


def module_file(name: str, root: Path = PROJECT,
                packages: tuple[str, ...] = PACKAGES) -> str | None:
    """The file (relative to ``root``, POSIX) of a dotted module name, if it is one of
    ``packages``."""
    if not name.startswith(tuple(f"{package}." for package in packages)):
        return None
    path = Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (root / candidate).is_file():
            return candidate.as_posix()
    return None


def file_imports(relative: str, root: Path = PROJECT,
                 packages: tuple[str, ...] = PACKAGES) -> set[str]:
    """The files of ``packages`` that one file imports anywhere in its body, function-level
    imports included (package ``__init__`` files left out: ours are empty)."""
    found = set()
    for node in ast.walk(ast.parse((root / relative).read_text(), filename=relative)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(f for f in (module_file(n, root, packages) for n in names)
                     if f and not f.endswith("__init__.py") and f != relative)
    return found


def imported_files(module: str, root: Path = PROJECT) -> set[str]:
    """Every project file the dotted ``module`` imports, transitively, itself included
    (paths relative to ``root``; not through :data:`NOT_A_DEPENDENCY`)."""
    start = module_file(module, root)
    if start is None:
        raise ValueError(f"{module!r} is not a module of the project at {root} "
                         f"(packages {', '.join(PACKAGES)})")
    pending, seen = [start], set()
    while pending:
        current = pending.pop()
        if current not in seen and current not in NOT_A_DEPENDENCY:
            seen.add(current)
            pending.extend(file_imports(current, root))
    return seen


def code_digest(*modules: str, root: Path = PROJECT) -> str:
    """sha256 of the code of the dotted ``modules``: the union of their import closures
    (:func:`imported_files`), each file's path and contents, in sorted order (so the digest
    does not depend on the order of imports, and a file renamed changes it)."""
    digest = hashlib.sha256()
    for relative in sorted(set().union(*(imported_files(m, root) for m in modules))):
        digest.update(relative.encode() + b"\0")
        digest.update(source_digest(root / relative).encode())
    return digest.hexdigest()
