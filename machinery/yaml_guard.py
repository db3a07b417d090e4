"""Refuse a YAML file that would exhaust memory once composed, before anything composes it.

    python -m machinery.yaml_guard params.yaml [presets/full.yaml ...]

A "billion laughs" file (``a: &a [x, x, ...]``, ``b: &b [*a, *a, ...]``, nine levels deep) is
a few hundred bytes, but every reader that expands its aliases builds 9**9 nodes. DVC does so
while it loads params.yaml for ``dvc repro``, ``dvc status`` and ``dvc exp run``, before any
stage of ours runs. This check reads only PyYAML's event stream (``yaml.parse``), in which an
alias is one event whatever it refers to, so a bomb costs it what its text costs. It refuses:

- a file larger than :data:`MAX_BYTES`;
- more than :data:`MAX_ALIASES` aliases (params.yaml and the presets use none);
- a document whose size with every alias expanded exceeds :data:`MAX_NODES` nodes (the
  anchored node's size is counted at each alias, so a few aliases of a large anchor count as
  what they expand to);
- an alias inside the collection it refers to (a recursive structure, endless once expanded);
- collections nested deeper than :data:`MAX_DEPTH`.

Each refusal names the file and the line (of the alias that crossed a bound, or of the
collection too deep). ``make run`` and ``make run-full`` run it before ``dvc repro``;
:func:`check_yaml_budget` is the same check on text already read.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import yaml

#: The largest YAML file accepted (params.yaml is about 20 KiB).
MAX_BYTES = 1 << 20
#: Aliases allowed in one file (params.yaml and presets/full.yaml use none); with at most this
#: many, a bomb can only be built from anchors that are large themselves, which MAX_NODES
#: counts.
MAX_ALIASES = 64
#: Nodes (scalars and collections) of the stream with every alias expanded (params.yaml: about
#: 570, so a margin of over a hundred times; DVC builds several Python objects per node).
MAX_NODES = 100_000
#: Nesting of collections (params.yaml: 4).
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml's parser when present
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class YamlBudgetError(yaml.YAMLError):
    """A YAML file refused before it is composed: ``str()`` is ``<path>: <problem>``."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem


def _name(anchor: str) -> str:
    # an anchor's name is the file's text: shown short, and escaped like any quoted value
    text = anchor.encode("unicode_escape").decode("ascii")
    return text[:40] + ("..." if len(text) > 40 else "")


def check_yaml_budget(path: Path | str, text: str) -> None:
    """Refuse ``text`` (the content of ``path``, named in the error) when composing it could
    exhaust memory: :class:`YamlBudgetError`. Malformed YAML raises PyYAML's own
    ``yaml.YAMLError``, as the loader would. Nothing is composed: memory stays bounded by the
    text's size, and time by its number of events."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlBudgetError(path, f"larger than {MAX_BYTES:,} bytes")
    sizes: dict[str, int] = {}           # anchor -> its node's size with aliases expanded
    open_: list[tuple[str | None, int]] = []   # open collections: (anchor, nodes before it)
    nodes = aliases = 0
    stream = io.StringIO(text)
    stream.name = str(path)             # PyYAML's own errors then name the file, not a string
    for event in yaml.parse(stream, Loader=_Loader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlBudgetError(path, f"line {line}: alias *{_name(event.anchor)} is "
                                      f"alias number {aliases}; at most {MAX_ALIASES} are "
                                      "allowed (YAML aliases can expand without bound)")
            if any(anchor == event.anchor for anchor, _ in open_):
                raise YamlBudgetError(path, f"line {line}: alias *{_name(event.anchor)} lies "
                                      "inside the collection it refers to (a recursive "
                                      "structure, endless once expanded)")
            nodes += sizes.get(event.anchor, 1)   # an undefined one: the loader names it
            if nodes > MAX_NODES:
                raise YamlBudgetError(path, f"line {line}: alias *{_name(event.anchor)} "
                                      f"takes the file beyond {MAX_NODES:,} nodes once its "
                                      "aliases are expanded")
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, _STARTS):
            nodes += 1
            open_.append((event.anchor, nodes - 1))
            if len(open_) > MAX_DEPTH:
                raise YamlBudgetError(path, f"line {line}: collections nested more than "
                                      f"{MAX_DEPTH} deep")
        elif isinstance(event, _ENDS):
            anchor, before = open_.pop()
            if anchor is not None:
                sizes[anchor] = nodes - before
        if nodes > MAX_NODES:           # without aliases: a file of many tiny nodes
            raise YamlBudgetError(path, f"line {line}: more than {MAX_NODES:,} nodes")


def check_yaml_file(path: Path | str) -> None:
    """:func:`check_yaml_budget` of a file, its size checked before it is read."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlBudgetError(path, f"{size:,} bytes, larger than {MAX_BYTES:,}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise YamlBudgetError(path, f"not UTF-8 (byte {err.start})") from None
    check_yaml_budget(path, text)


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m machinery.yaml_guard FILE.yaml [FILE.yaml ...]", file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        try:
            check_yaml_file(path)
        except YamlBudgetError as err:
            print(f"{err.path}: error: {err.problem}", file=sys.stderr)
            failed = True
        except yaml.YAMLError as err:
            print(f"{path}: error: not valid YAML: {err}", file=sys.stderr)
            failed = True
        except OSError as err:
            print(f"{path}: error: {err.strerror or err}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
