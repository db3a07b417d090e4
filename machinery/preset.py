"""Write a params preset (a partial params file, e.g. ``presets/full.yaml``) into params.yaml.

    python -m machinery.preset presets/full.yaml

Only the lines of the preset's settings change, each keeping its comment, so `git diff
params.yaml` shows exactly what the preset set. A preset sets one-line values (numbers,
strings, null, short lists); a key params.yaml does not have is an error naming it, so a
misspelt preset never adds a setting no stage reads. The result is validated as a whole before
it is written (atomically).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

from machinery.atomic import atomic_path
from machinery.params import PARAMS_FILE, ParamsError, parse_yaml, validate_params

#: ``  key: value   # comment``: indentation, key, value, spacing and comment.
SETTING = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w]*):"
                     r"(?P<value>[^#]*?)(?P<rest>\s*(#.*)?)$")


def leaves(tree: dict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """(key path, value) of every non-mapping value of a nested mapping."""
    found = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            found += leaves(value, (*prefix, str(key)))
        else:
            found.append(((*prefix, str(key)), value))
    return found


def setting_lines(lines: list[str]) -> dict[tuple[str, ...], int]:
    """The line number of every key of a block-style YAML file, by key path."""
    found, stack = {}, []          # stack: (indent, key) of the enclosing mappings
    for number, line in enumerate(lines):
        match = SETTING.match(line)
        if not match:                # comments, list items and blank lines have no key
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        found[tuple(key for _, key in stack)] = number
    return found


def set_line(line: str, value, where: str) -> str:
    """``line`` with its value replaced by ``value`` (YAML flow style), comment kept in place."""
    match = SETTING.match(line)
    old = match["value"].strip()
    if (old in ("", "|", ">") or old.count("[") != old.count("]")
            or old.count("{") != old.count("}")):
        raise ParamsError(f"{where}: its value spans several lines in params.yaml; edit it there")
    text = "null" if value is None else json.dumps(value)      # JSON is YAML flow style
    head = f"{match['indent']}{match['key']}: {text}"
    comment = match["rest"].strip()
    column = len(line) - len(match["rest"].lstrip()) if comment else 0
    return f"{head.ljust(column - 1)} {comment}" if comment else head


def apply_preset(preset: Path, target: Path = PARAMS_FILE) -> list[str]:
    """Set every leaf of ``preset`` in ``target``; return the dotted keys whose value changed."""
    try:
        overrides = parse_yaml(Path(preset).read_text())
    except yaml.YAMLError as err:
        raise ParamsError(f"{preset}: not valid YAML: {err}") from None
    if not isinstance(overrides, dict) or not overrides:
        raise ParamsError(f"{preset}: expected a mapping of params sections")
    lines = Path(target).read_text().splitlines()
    current = parse_yaml("\n".join(lines))
    where = setting_lines(lines)
    changed = []
    for path, value in leaves(overrides):
        name = ".".join(path)
        if path not in where:
            raise ParamsError(f"{preset}: {name} is not a setting of {target}")
        node = current
        for key in path:
            node = node[key]
        if node != value:
            lines[where[path]] = set_line(lines[where[path]], value, f"{preset}: {name}")
            changed.append(name)
    text = "\n".join(lines) + "\n"
    validate_params(parse_yaml(text), f"{target} with {preset}")
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return changed


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m machinery.preset PRESET.yaml")
    changed = apply_preset(Path(sys.argv[1]))
    print(f"{PARAMS_FILE}: {', '.join(changed) or 'nothing'} set from {sys.argv[1]}")


if __name__ == "__main__":
    try:
        main()
    except (ParamsError, OSError, yaml.YAMLError) as err:
        sys.exit(f"preset: error: {err}")
