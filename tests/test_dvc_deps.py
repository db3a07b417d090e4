"""dvc.yaml declares, for every stage, each project module its command imports (directly or
through other project modules): otherwise `dvc repro` would keep a result after the code that
computed it changed. pipeline/params.py is the documented exception (dvc.yaml's header)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT

PACKAGES = ("pipeline", "arithmetic", "models", "reporting")
NOT_A_DEPENDENCY = {"pipeline/params.py"}
STAGES = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]


def _module_file(name: str) -> str | None:
    """The project file of a dotted module name, if it is one of ours."""
    if not name.startswith(tuple(f"{package}." for package in PACKAGES)):
        return None
    path = Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (PROJECT / candidate).is_file():
            return candidate.as_posix()
    return None


def _imports(relative: str) -> set[str]:
    """Project files imported by one file: `import a.b`, `from a.b import c` (c a module too)."""
    found = set()
    for node in ast.walk(ast.parse((PROJECT / relative).read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(f for f in map(_module_file, names) if f and not f.endswith("__init__.py"))
    return found


def imported_files(module: str) -> set[str]:
    """Every project file the module imports, transitively, itself included (not through
    pipeline/params.py: what the schema imports to validate params is not a stage's code)."""
    pending, seen = [_module_file(module)], set()
    while pending:
        current = pending.pop()
        if current not in seen and current not in NOT_A_DEPENDENCY:
            seen.add(current)
            pending.extend(_imports(current))
    return seen


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_declares_the_code_it_imports(stage):
    command = STAGES[stage]["cmd"]
    assert command.startswith("python -m "), command
    declared = {str(dep) for dep in STAGES[stage].get("deps", [])}
    folders = tuple(dep.rstrip("/") + "/" for dep in declared)       # a folder covers its files
    missing = sorted(path for path in imported_files(command.split()[2])
                     if path not in declared and not path.startswith(folders))
    assert not missing, f"dvc.yaml stage {stage!r} imports but does not declare {missing}"
