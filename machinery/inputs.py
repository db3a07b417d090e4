"""Input validation of every stage, in one place: each stage's ``main()`` calls
:func:`check_inputs` first, before any pool, cluster or PARI work starts.

Every input a stage reads is opened and checked against its :data:`SPECS` entry:

- a parquet table: readable (not garbage, truncated or empty bytes), every required column
  present with its kind of dtype (for a list column, the dtype of its elements too: the
  a-invariants exact integers, the generators lists of text), no required column entirely
  null, rows present unless the table may legitimately be empty, its key unique and never
  null, and for the curve table every generator coordinate an exact rational (data is never
  handed to PARI as text);
- a JSON file: valid JSON of the expected shape;
- a directory of figures: present and a directory;
- tables that describe the same curves (:data:`SAME_CURVES`): the same key values, so rows
  missing from or added to one of them are named before a stage joins them.

A failure is an :class:`InputError` naming the file and the column (or line); the stages
exit non-zero with it within seconds.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl

#: Characters of a bad value quoted in an error (escaped).
EXCERPT = 40


class InputError(ValueError):
    """An input file of a stage is missing, unreadable or not what the stage needs; the message
    names the file and the column."""


def _excerpt(value) -> str:
    text = repr(value)
    return text[:EXCERPT] + ("..." if len(text) > EXCERPT else "")


def _exact_integer(dtype: pl.DataType) -> bool:
    """An integer dtype, or a decimal with no digits after the point: the curve table stores
    a-invariants as Decimal(38, 0), since they outgrow 64 bits."""
    return dtype.is_integer() or (isinstance(dtype, pl.Decimal) and dtype.scale == 0)


def _integer_list(dtype: pl.DataType) -> bool:
    # a float or text inner dtype passes a bare list check; int() then turns 1.5 into 1
    # silently, or fails far from the file on "x": the file itself must hold integers
    return isinstance(dtype, pl.List) and _exact_integer(dtype.inner)


#: Kinds of column dtype: a check and the words of the error.
KINDS: dict[str, tuple[Callable[[pl.DataType], bool], str]] = {
    "string": (lambda t: t == pl.String, "text"),
    "integer": (lambda t: t.is_integer(), "integers"),
    "number": (lambda t: t.is_numeric(), "numbers"),
    "boolean": (lambda t: t == pl.Boolean, "booleans"),
    "integer_list": (_integer_list, "lists of integers (an integer or Decimal(p, 0) inner dtype)"),
    # generators: a list of points, each point its coordinates as exact text "p" or "p/q"
    "text_list": (lambda t: t == pl.List(pl.String), "lists of text (List(String))"),
    "text_list_list": (lambda t: t == pl.List(pl.List(pl.String)),
                       "lists of lists of text (List(List(String)))"),
    "any": (lambda t: True, "any type"),
}


@dataclass(frozen=True)
class Table:
    """What a stage needs of a parquet table."""
    columns: dict[str, str]                 # column -> kind (:data:`KINDS`)
    key: tuple[str, ...] = ()               # unique, never null
    nullable: tuple[str, ...] = ()          # required columns that may be entirely null
    may_be_empty: bool = False              # zero rows is a valid table
    check: Callable[[Path, pl.LazyFrame], None] | None = None   # further checks of the rows


@dataclass(frozen=True)
class Json:
    """What a stage needs of a JSON file: its top-level type, and for a mapping its values'."""
    kind: type = dict
    values: type | None = None
    required: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Directory:
    """A directory of files (figures) a stage reads."""


_KEY = {"label": "string", "isogeny_class": "string", "number": "integer",
        "conductor": "integer"}
_RATIONAL = re.compile(r"-?\d+(?:/\d*[1-9]\d*)?")


def _rational_generators(path: Path, frame: pl.LazyFrame) -> None:
    """Every generator coordinate is an exact rational ``p`` or ``p/q``: anything else (GP code
    such as ``system(...)``) is refused before PARI sees the table."""
    bad = (frame.select("label", pl.col("gens").alias("point"), pl.int_range(pl.len()).alias("row"))
           .explode("point").explode("point")
           .filter(pl.col("point").is_not_null()
                   & ~pl.col("point").str.contains(r"^-?\d+(?:/\d*[1-9]\d*)?$"))
           .head(1).collect())
    if len(bad):
        row = bad.row(0, named=True)
        raise InputError(f"{path}: column 'gens', row {row['row']} ({row['label']}): generator "
                         f"coordinate {_excerpt(row['point'])} is not a rational number p/q")
    shapes = (frame.select("label", pl.col("gens"), pl.int_range(pl.len()).alias("row"))
              .explode("gens").filter(pl.col("gens").is_not_null()
                                      & (pl.col("gens").list.len() != 2))
              .head(1).collect())
    if len(shapes):
        row = shapes.row(0, named=True)
        raise InputError(f"{path}: column 'gens', row {row['row']} ({row['label']}): a "
                         "generator is not a pair [x, y]")


_REFERENCE = Table({**_KEY, "ainvs": "integer_list", "rank": "integer", "torsion": "integer",
                    "real_period": "number", "regulator": "number", "special_value": "number",
                    "sha_an": "number", "root_number": "integer"}, key=("label",),
                   nullable=("rank", "regulator", "special_value", "sha_an", "root_number"))
_FEATURES = Table(dict(_KEY), key=("label",))

#: The inputs of the stages, by their ``paths`` entry in params.yaml.
SPECS: dict[str, Table | Json | Directory] = {
    "curves": Table({**_KEY, "ainvs": "integer_list", "gens": "text_list_list"}, key=("label",),
                    check=_rational_generators),
    "bsd": Table({**_KEY, "ainvs": "integer_list", "rank": "integer", "torsion": "integer",
                  "tamagawa_product": "integer", "real_period": "number",
                  "regulator": "number", "special_value": "number", "sha_an": "number",
                  "sha": "integer", "root_number": "integer", "semistable": "boolean"},
                 key=("label",)),
    "features": _FEATURES,
    "feature_groups": Json(dict, list),
    "invariants": Table({"label": "string", "degree": "integer", "degree_v2": "integer",
                         "optimality": "integer", "class_size": "integer",
                         "class_deg": "integer", "szpiro_ratio": "number",
                         "two_selmer_rank": "integer"}, key=("label",),
                        nullable=("degree", "degree_v2", "two_selmer_rank")),
    "invariants_metrics": Json(dict),
    "pairs": Table({"target": "string", "group": "string", "task": "string",
                    "description": "string", "definition": "string", "null": "string",
                    "columns": "text_list", "known": "text_list", "laws": "text_list"},
                   key=("target", "group")),
    "evaluations": Table({"target": "string", "group": "string", "task": "string",
                          "metric": "string", "score": "number", "best_baseline": "string",
                          "baseline_score": "number", "p_value": "number"},
                         key=("target", "group")),
    "importances": Table({"target": "string", "group": "string", "feature": "string",
                          "gain": "number", "mean_abs_shap": "number"}, may_be_empty=True),
    "height_sample": _REFERENCE,
    "height_sample_features": _FEATURES,
    "stein_watkins": _REFERENCE,
    "stein_watkins_features": _FEATURES,
    "bias": Table({"target": "string", "group": "string"}, key=("target", "group"),
                  may_be_empty=True),
    "bias_distributions": Table({"sample": "string", "quantity": "string", "value": "string",
                                 "curves": "integer", "share": "number"}, may_be_empty=True),
    "bias_metrics": Json(dict),
    "bias_figures": Directory(),
    "findings": Table({"target": "string", "group": "string", "verdict": "string",
                       "score": "number"}, key=("target", "group")),
    "controls": Table({"target": "string", "group": "string", "law": "string",
                       "verdict_with_law": "string", "verdict": "string", "found": "boolean",
                       "added_value": "number", "added_value_low": "number",
                       "added_value_high": "number", "metric": "string"},
                      key=("target", "group")),
    "topology": Table({"family": "string", "group": "string", "kind": "string",
                       "statistic": "string", "observed": "number", "p_value": "number",
                       "q_value": "number"}, nullable=("p_value", "q_value"),
                      may_be_empty=True),
    "topology_figures": Directory(),
    "murmurations": Table({"group": "string", "axis": "string", "x": "number",
                           "mean": "number", "curves": "integer"}),
    "murmurations_metrics": Json(dict),
    "murmurations_figures": Directory(),
    "bsd_ratio_fits": Table({"conductor_low": "integer", "conductor_high": "integer",
                             "a": "number", "b": "number"}, nullable=("a", "b"),
                            may_be_empty=True),
    "crosscheck": Table({"label": "string", "quantity": "string",
                         "relative_difference": "number"}, nullable=("relative_difference",),
                        may_be_empty=True),
    "crosscheck_metrics": Json(dict),
    "published": Table({"label": "string", "rank": "integer"}, key=("label",),
                       nullable=("rank",)),
    "published_ap": Table({"isogeny_class": "string", "prime": "integer", "ap": "integer"},
                          may_be_empty=True),
    "sources_lock": Json(dict, dict),
}

#: Inputs that describe the same curves, row for row: (table, table, key).
SAME_CURVES = [("curves", "bsd", "label"), ("bsd", "features", "label"),
               ("curves", "invariants", "label"),
               ("height_sample", "height_sample_features", "label"),
               ("stein_watkins", "stein_watkins_features", "label")]


def check_table(path: Path | str, spec: Table) -> None:
    """Open the parquet table at ``path`` and check it against ``spec``; :class:`InputError`
    naming the file (and the column) on the first problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found (run the stage that writes it: `dvc repro`)")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes), not a parquet table")
    try:
        schema = pl.read_parquet_schema(path)
    except Exception as err:      # polars raises several types for damaged files
        raise InputError(f"{path}: not a readable parquet file "
                         f"({type(err).__name__}: {_excerpt(str(err))})") from None
    for column, kind in spec.columns.items():
        if column not in schema:
            raise InputError(f"{path}: column {column!r} is missing "
                             f"(it has {len(schema)} columns: {_excerpt(list(schema))})")
        accepts, words = KINDS[kind]
        if not accepts(schema[column]):
            raise InputError(f"{path}: column {column!r} has dtype {schema[column]}, "
                             f"expected {words}")
    frame = pl.scan_parquet(path)
    required = [c for c in spec.columns if c not in spec.nullable]
    try:
        summary = frame.select(pl.len().alias("__rows"),
                               *[pl.col(c).null_count().alias(c) for c in required],
                               *([pl.struct(list(spec.key)).is_duplicated().any().alias("__dup")]
                                 if spec.key else [])).collect().row(0, named=True)
    except Exception as err:
        raise InputError(f"{path}: damaged parquet data "
                         f"({type(err).__name__}: {_excerpt(str(err))})") from None
    rows = summary["__rows"]
    if rows == 0:
        if spec.may_be_empty:
            return
        raise InputError(f"{path}: no rows (the stage needs at least one)")
    for column in required:
        if summary[column] == rows:
            raise InputError(f"{path}: column {column!r} is entirely null ({rows} rows)")
    for column in spec.key:
        if summary.get(column, 0):
            raise InputError(f"{path}: key column {column!r} has {summary[column]} null values")
    if spec.key and summary["__dup"]:
        duplicated = (frame.select(list(spec.key)).filter(pl.struct(list(spec.key)).is_duplicated())
                      .head(1).collect().row(0))
        raise InputError(f"{path}: key {'/'.join(spec.key)} {_excerpt(duplicated)} occurs more "
                         "than once (duplicated rows)")
    if spec.check is not None:
        try:
            spec.check(path, frame)
        except InputError:
            raise
        except Exception as err:
            raise InputError(f"{path}: damaged parquet data "
                             f"({type(err).__name__}: {_excerpt(str(err))})") from None


def read_json_input(path: Path | str, spec: Json = Json()):
    """The JSON value at ``path``, checked against ``spec``; :class:`InputError` naming the
    file and the line and column of a syntax error."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: not found (run the stage that writes it: `dvc repro`)") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: byte {err.start}: not UTF-8 text") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: line {err.lineno}, column {err.colno}: not valid JSON "
                         f"({err.msg})") from None
    if not isinstance(value, spec.kind):
        raise InputError(f"{path}: expected a JSON {spec.kind.__name__}, "
                         f"got {type(value).__name__}")
    if isinstance(value, dict):
        for key in spec.required:
            if key not in value:
                raise InputError(f"{path}: no entry {key!r}")
        if spec.values is not None:
            for key, item in value.items():
                if not isinstance(item, spec.values):
                    raise InputError(f"{path}: entry {_excerpt(key)} is a "
                                     f"{type(item).__name__}, expected a "
                                     f"{spec.values.__name__}")
    return value


def _same_keys(first: Path, second: Path, key: str) -> None:
    ours = pl.scan_parquet(first).select(key).collect()[key]
    theirs = pl.scan_parquet(second).select(key).collect()[key]
    if ours.equals(theirs):
        return
    missing = theirs.filter(~theirs.is_in(ours.implode())).head(3).to_list()
    extra = ours.filter(~ours.is_in(theirs.implode())).head(3).to_list()
    detail = (f"{len(theirs)} rows against {len(ours)}"
              + (f"; not in {first}: {missing}" if missing else "")
              + (f"; missing here: {extra}" if extra else "")
              + ("" if missing or extra else "; same curves in another order"))
    raise InputError(f"{second}: column {key!r} does not list the curves of {first} row for "
                     f"row ({detail}); rerun `dvc repro`")


def check_inputs(paths, *names: str) -> None:
    """Check the inputs ``names`` (``paths`` entries of params.yaml) of a stage, then the
    tables among them that must describe the same curves; :class:`InputError` on the first
    problem, naming the file and the column.

    ``check_inputs(params.paths, "features", "feature_groups", "bsd")``
    """
    for name in names:
        spec, path = SPECS[name], Path(getattr(paths, name))
        if isinstance(spec, Table):
            check_table(path, spec)
        elif isinstance(spec, Json):
            read_json_input(path, spec)
        elif not path.is_dir():
            raise InputError(f"{path}: not a directory (run the stage that writes it)")
    for first, second, key in SAME_CURVES:
        if first in names and second in names:
            _same_keys(Path(getattr(paths, first)), Path(getattr(paths, second)), key)
    if "features" in names and "feature_groups" in names:
        _groups_in_table(Path(paths.feature_groups), Path(paths.features))


def _groups_in_table(groups_path: Path, table: Path) -> None:
    """Every column a feature group lists is a column of the feature table."""
    columns = set(pl.read_parquet_schema(table))
    for group, members in read_json_input(groups_path, SPECS["feature_groups"]).items():
        absent = [c for c in members if not isinstance(c, str) or c not in columns]
        if absent:
            raise InputError(f"{groups_path}: group {_excerpt(group)} lists column "
                             f"{_excerpt(absent[0])}, which {table} does not have; rerun "
                             "`dvc repro features`")


def require_inputs(stage: str, paths, *names: str) -> None:
    """:func:`check_inputs` for a stage's ``main()``: on a problem, exit non-zero at once with
    ``<stage>: error: <file>: ...`` (before any worker starts).

    ``require_inputs("train", params.paths, "features", "feature_groups", "bsd")``
    """
    try:
        check_inputs(paths, *names)
    except InputError as err:
        raise SystemExit(f"{stage}: error: {err}") from None
