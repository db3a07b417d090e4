"""Write each stage's code dependencies into dvc.yaml: the import closure of its command.

    python -m machinery.dvc_deps            # rewrite dvc.yaml's code lists
    python -m machinery.dvc_deps --check    # exit 1, naming the stages, if one is out of date

DVC has no way to derive a dependency list (a ``${...}`` cannot stand for a list of deps), and a
whole folder as a dependency would rerun a stage whenever any file of the folder changed, its
own or not. So every stage's list of code files is generated: the files
:func:`machinery.code_digest.imported_files` finds from the stage's module (``python -m
<module>``), sorted, under a comment that says so. The resume keys of the stages hash the same
closure, so what ``dvc repro`` reruns for and what a resumed chunk is checked against agree.
The stage's data dependencies (tables, lock files, ``${paths...}``) follow the list by hand.
``tests/test_dvc_deps.py`` fails when a list is out of date.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from machinery.atomic import write_text
from machinery.code_digest import PACKAGES, PROJECT, imported_files

#: The comment that opens a stage's generated code list in dvc.yaml.
MARKER = "# code: the import closure of {module} (python -m machinery.dvc_deps)"
#: A stage header (two spaces of indent) and a key of a stage (four).
STAGE = re.compile(r"^  (?P<name>[a-z_]+):\s*$")
KEY = re.compile(r"^    (?P<key>\w+):")
#: A generated line: the marker, or a code file of the project's packages.
GENERATED = re.compile(r"^      (# code: .*|- (%s)/[\w/]+\.py\s*)$" % "|".join(PACKAGES))


def stage_modules(text: str) -> dict[str, str]:
    """Each stage's module, from its command ``python -m <module>``."""
    stages = yaml.safe_load(text)["stages"]
    modules = {}
    for name, stage in stages.items():
        words = str(stage["cmd"]).split()
        if words[:2] != ["python", "-m"] or len(words) < 3:
            raise ValueError(f"dvc.yaml stage {name!r}: the command {stage['cmd']!r} is not "
                             f"`python -m <module>`, so its code cannot be derived")
        modules[name] = words[2]
    return modules


def code_lines(module: str, root: Path) -> list[str]:
    """The generated lines of one stage's deps: the marker, then its closure sorted."""
    return ([f"      {MARKER.format(module=module)}\n"]
            + [f"      - {path}\n" for path in sorted(imported_files(module, root))])


def with_code_deps(text: str, root: Path = PROJECT) -> str:
    """dvc.yaml's text with every stage's generated code list rewritten (the rest unchanged)."""
    modules = stage_modules(text)
    out, stage, in_deps = [], None, False
    for line in text.splitlines(keepends=True):
        if header := STAGE.match(line):
            stage = header["name"]
        if key := KEY.match(line):
            in_deps = key["key"] == "deps"
            out.append(line)
            if in_deps and stage in modules:
                out.extend(code_lines(modules[stage], root))
            continue
        if not (in_deps and GENERATED.match(line)):
            out.append(line)
    return "".join(out)


def main(argv: list[str]) -> int:
    path = PROJECT / "dvc.yaml"
    text = path.read_text()
    expected = with_code_deps(text)
    if "--check" in argv:
        if expected != text:
            print(f"{path}: the code dependencies are out of date; "
                  f"run `python -m machinery.dvc_deps`", file=sys.stderr)
            return 1
        return 0
    if expected != text:
        write_text(expected, path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
