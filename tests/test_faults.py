"""The fault suite: every stage, given each of its inputs damaged, exits non-zero within 30 s
with a message naming the file, and leaves its outputs' bytes as they were.

The valid inputs are built once per session: the curve, BSD and feature tables by the stages'
own functions on conductors below 100; the reference samples are those tables under their
names; the tables of later stages (evaluations, findings, ...) are one-row tables of their
:data:`machinery.inputs.SPECS` columns. Each case is a scratch project (params.yaml, the inputs
at their params paths, and sentinel bytes at every output the stage declares in dvc.yaml);
the cases of a stage run through tests/fault_runner.py, which imports the stage once and runs
``python -m pipeline.<stage>`` in a fork per case. One case per stage also runs as a plain
``python -m pipeline.<stage>`` subprocess.

stein_watkins and ingest (on the embedded tables) read a file of an installed wheel instead:
their cases, at the end, run the stage in this process against a damaged copy of that file,
and the error must name the file and the line.
"""
from __future__ import annotations

import bz2
import hashlib
import json
import os
import random
import re
import runpy
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
import yaml

from machinery.inputs import SAME_CURVES, SPECS, Directory, Json, Table
from tests.conftest import PROJECT, small_params

TIMEOUT = 30
DVC = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
PARAMS = small_params()
PATHS = PARAMS["paths"]
_REF = re.compile(r"\$\{paths\.(\w+)\}")


def _entries(items) -> list[str]:
    names = []
    for item in items or []:
        text = item if isinstance(item, str) else next(iter(item))
        match = _REF.fullmatch(text)
        if match:
            names.append(match.group(1))
    return names


def stage_inputs(stage: str) -> list[str]:
    """The ``paths`` entries a stage depends on (dvc.yaml deps), all of them in SPECS."""
    return [n for n in _entries(DVC[stage].get("deps")) if n != "sources_lock"]


def stage_outputs(stage: str) -> list[str]:
    spec = DVC[stage]
    return [n for key in ("outs", "metrics", "plots") for n in _entries(spec.get(key))]


#: The stages that read files of the pipeline (height_sample reads none; stein_watkins and
#: ingest read the files of installed wheels, at the end of this file, and ingest's online
#: sources are in test_faults_online.py).
STAGES = [s for s in DVC if stage_inputs(s)]

# ---------------------------------------------------------------------------- valid inputs


def _example(kind: str, n: int) -> pl.Series:
    return {"string": pl.Series([f"v{i}" for i in range(n)], dtype=pl.String),
            "integer": pl.Series(list(range(1, n + 1)), dtype=pl.Int64),
            "number": pl.Series([0.5 + i for i in range(n)], dtype=pl.Float64),
            "boolean": pl.Series([True] * n, dtype=pl.Boolean),
            "integer_list": pl.Series([[0, -1, 1, -10, -20]] * n,
                                      dtype=pl.List(pl.Decimal(38, 0))),
            "text_list": pl.Series([["a1", "a2"]] * n, dtype=pl.List(pl.String)),
            "text_list_list": pl.Series([[["5", "5"]]] * n, dtype=pl.List(pl.List(pl.String))),
            "any": pl.Series([1] * n, dtype=pl.Int64)}[kind]


def example_table(spec: Table, rows: int = 2) -> pl.DataFrame:
    return pl.DataFrame([_example(kind, rows).alias(c) for c, kind in spec.columns.items()])


@pytest.fixture(scope="session")
def template(tmp_path_factory, pari) -> Path:
    """A scratch project holding a valid version of every input in SPECS."""
    from arithmetic.bsd import bsd_table
    from sources.elldata import read_curves
    from arithmetic.invariants import invariants_table
    from models.features import resolve_groups
    from pipeline.feature_table import feature_table, invariant_features
    from machinery.params import validate_params
    from tests.conftest import TEST_INVARIANT_BOUNDS

    root = tmp_path_factory.mktemp("faults") / "template"
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    params = validate_params(PARAMS, "small params")
    curves = read_curves(1, 100)
    bsd = bsd_table(pari, curves, 1e-6, 128, 64)
    section = params.features.model_copy(update={"workers": 1})
    invariants = invariants_table(pari, curves, **TEST_INVARIANT_BOUNDS)
    features = feature_table(curves, bsd, invariant_features(invariants, curves), section,
                             root / "features.chunks")
    shutil.rmtree(root / "features.chunks", ignore_errors=True)
    real = {"curves": curves, "bsd": bsd, "invariants": invariants, "features": features,
            "height_sample": bsd,
            "height_sample_features": features, "stein_watkins": bsd,
            "stein_watkins_features": features}
    for name, spec in SPECS.items():
        path = root / PATHS[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, Table):
            (real.get(name) if name in real else example_table(spec)).write_parquet(path)
        elif isinstance(spec, Directory):
            path.mkdir(exist_ok=True)
            (path / "figure.png").write_bytes(b"\x89PNG old figure")
        elif name == "feature_groups":
            path.write_text(json.dumps(resolve_groups(features.columns)))
        else:
            path.write_text(json.dumps({"checked": 1}))
    return root


# ------------------------------------------------------------------------------ the faults


def _rewrite(path: Path, change) -> None:
    frame = pl.read_parquet(path)
    change(frame).write_parquet(path)


def _victim(spec: Table, nullable_ok: bool = False) -> str:
    """The column a fault damages: a required (non-nullable) one that is not part of the key,
    or the key's first when there is no other."""
    candidates = [c for c in spec.columns if c not in spec.key and
                  (nullable_ok or c not in spec.nullable)]
    return (candidates or list(spec.key) or list(spec.columns))[0]


def _wrong_dtype(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    dtype = frame.schema[column]
    replacement = (pl.lit(1, dtype=pl.Int64) if dtype == pl.String
                   else pl.lit("not a number", dtype=pl.String))
    return frame.with_columns(replacement.alias(column))


def _recast(column: str, dtype: pl.DataType):
    return lambda p: _rewrite(p, lambda f: f.with_columns(pl.col(column).cast(dtype)))


def list_faults(spec: Table) -> dict:
    """Lists of the wrong inner dtype, which a check of the outer dtype alone lets through:
    a-invariants as floats or text, generators as a flat list of text, a pair's column names
    as numbers."""
    faults = {}
    for column, kind in spec.columns.items():
        if kind == "integer_list":
            faults[f"{column}_as_floats"] = _recast(column, pl.List(pl.Float64))
            faults[f"{column}_as_text"] = _recast(column, pl.List(pl.String))
        elif kind == "text_list_list":
            faults[f"{column}_flat"] = lambda p, c=column: _rewrite(
                p, lambda f: f.with_columns(pl.col(c).list.eval(pl.element().list.first())))
        elif kind == "text_list":
            faults[f"{column}_as_integers"] = lambda p, c=column: _rewrite(
                p, lambda f: f.with_columns(pl.Series(c, [[1, 2]] * len(f),
                                                      dtype=pl.List(pl.Int64))))
    return faults


def parquet_faults(name: str, spec: Table, stage: str) -> dict:
    """fault -> a function damaging the input at a path."""
    column, nulled = _victim(spec, nullable_ok=True), _victim(spec)
    faults = {
        "garbage": lambda p: p.write_bytes(os.urandom(2048)),
        "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        "empty": lambda p: p.write_bytes(b""),
        "missing_column": lambda p: _rewrite(p, lambda f: f.drop(column)),
        "wrong_dtype": lambda p: _rewrite(p, lambda f: _wrong_dtype(f, column)),
        **list_faults(spec),
    }
    if nulled not in spec.nullable:
        faults["all_null_column"] = lambda p: _rewrite(
            p, lambda f: f.with_columns(pl.lit(None, dtype=f.schema[nulled]).alias(nulled)))
    if spec.key:
        faults["extra_row"] = lambda p: _rewrite(p, lambda f: pl.concat([f, f.head(1)]))
    if not spec.may_be_empty:
        faults["no_rows"] = lambda p: _rewrite(p, lambda f: f.head(0))
    if any(name in pair[:2] and set(pair[:2]) <= set(stage_inputs(stage)) for pair in SAME_CURVES):
        faults["missing_row"] = lambda p: _rewrite(p, lambda f: f.head(len(f) - 1))
    return faults


def _unknown_column(path: Path) -> None:
    groups = json.loads(path.read_text())
    first = next(iter(groups))
    path.write_text(json.dumps({**groups, first: groups[first] + ["no_such_column"]}))


def json_faults(name: str, stage: str) -> dict:
    faults = {"garbage": lambda p: p.write_bytes(os.urandom(512)),
              "truncated": lambda p: p.write_bytes(p.read_bytes()[:-3] or b"{"),
              "empty": lambda p: p.write_bytes(b""),
              "wrong_shape": lambda p: p.write_text(json.dumps([1, 2, 3]))}
    if name == "feature_groups" and "features" in stage_inputs(stage):
        faults["unknown_column"] = _unknown_column
    return faults


def directory_faults() -> dict:
    return {"missing": lambda p: shutil.rmtree(p),
            "a_file": lambda p: (shutil.rmtree(p), p.write_bytes(b"not a directory"))}


def faults_of(name: str, stage: str) -> dict:
    spec = SPECS[name]
    if isinstance(spec, Table):
        return parquet_faults(name, spec, stage)
    if isinstance(spec, Json):
        return json_faults(name, stage)
    return directory_faults()


CASES = [(stage, name, fault) for stage in STAGES for name in stage_inputs(stage)
         for fault in faults_of(name, stage)]


def _digest(path: Path) -> str | None:
    if path.is_dir():
        return "dir:" + ",".join(f"{p.relative_to(path)}={_digest(p)}"
                                 for p in sorted(path.rglob("*")) if p.is_file())
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def write_sentinels(case: Path, stage: str) -> dict:
    """Sentinel bytes at every output of ``stage`` in the project ``case``; their digests."""
    for output in stage_outputs(stage):
        path = case / PATHS[output]
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        if Path(PATHS[output]).suffix == "":
            path.mkdir()
            (path / "kept.png").write_bytes(b"previous run " + output.encode())
        else:
            path.write_bytes(b"previous run " + output.encode())
    return {o: _digest(case / PATHS[o]) for o in stage_outputs(stage)}


def prepare_case(template: Path, root: Path, stage: str, name: str, fault: str) -> dict:
    """A scratch project with one input damaged and sentinel outputs; the outputs' digests."""
    case = root / f"{stage}-{name}-{fault}"
    shutil.copytree(template, case)
    outputs = write_sentinels(case, stage)
    faults_of(name, stage)[fault](case / PATHS[name])
    return {"case": case, "outputs": outputs}


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(PROJECT),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture(scope="session")
def fault_results(template, tmp_path_factory) -> dict:
    """Every case run: (stage, input, fault) -> (exit status, seconds, stderr, outputs before,
    outputs after)."""
    root = tmp_path_factory.mktemp("fault-cases")
    prepared = {c: prepare_case(template, root, *c) for c in CASES}
    by_stage: dict[str, list] = {}
    for case in CASES:
        by_stage.setdefault(case[0], []).append(case)

    def run_stage(stage: str) -> None:
        dirs = [str(prepared[c]["case"]) for c in by_stage[stage]]
        subprocess.run([sys.executable, str(PROJECT / "tests" / "fault_runner.py"), stage,
                        str(TIMEOUT), *dirs], env=_environment(), check=True,
                       timeout=TIMEOUT * len(dirs) + 120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run_stage, by_stage))
    results = {}
    for case, info in prepared.items():
        where = info["case"]
        results[case] = (int((where / "rc").read_text()), float((where / "seconds").read_text()),
                         (where / "stderr").read_text(), info["outputs"],
                         {o: _digest(where / PATHS[o]) for o in stage_outputs(case[0])})
    return results


@pytest.mark.parametrize("stage, name, fault", CASES, ids=["-".join(c) for c in CASES])
def test_a_damaged_input_fails_fast_naming_the_file(fault_results, stage, name, fault):
    rc, seconds, stderr, before, after = fault_results[(stage, name, fault)]
    assert rc not in (0, -9), f"{stage} accepted {name} ({fault}):\n{stderr[-2000:]}"
    assert seconds < TIMEOUT
    assert PATHS[name] in stderr, f"the message does not name {PATHS[name]}:\n{stderr[-2000:]}"
    assert f"{stage}: error:" in stderr and "Traceback" not in stderr, stderr[-2000:]
    assert after == before, f"{stage} changed its outputs on a bad {name}"


def test_every_stage_and_input_has_cases():
    assert set(STAGES) == {"bsd", "invariants", "features", "train", "bias", "findings",
                           "controls", "topology", "murmurations", "crosscheck", "report"}
    for stage in STAGES:
        assert stage_inputs(stage), stage
        for name in stage_inputs(stage):
            assert name in SPECS, f"{stage} reads {name}, which has no input spec"


def test_the_valid_inputs_pass(template, tmp_path):
    """The checks refuse the damaged inputs, not the valid ones: each stage's inputs pass."""
    from machinery.inputs import check_inputs
    from machinery.params import validate_params
    os.chdir(template)
    try:
        paths = validate_params(PARAMS, "small params").paths
        for stage in STAGES:
            check_inputs(paths, *stage_inputs(stage))
    finally:
        os.chdir(PROJECT)


@pytest.mark.parametrize("stage", ["bsd", "crosscheck", "findings"])
def test_a_plain_stage_command_fails_within_the_time_limit(template, tmp_path, stage):
    """The same refusal through a real ``python -m pipeline.<stage>``."""
    name = stage_inputs(stage)[0]
    info = prepare_case(template, tmp_path, stage, name, "garbage")
    result = subprocess.run([sys.executable, "-m", f"pipeline.{stage}"], cwd=info["case"],
                            env=_environment(), capture_output=True, text=True,
                            timeout=TIMEOUT + 30)
    assert result.returncode != 0 and PATHS[name] in result.stderr, result.stderr[-2000:]
    assert {o: _digest(info["case"] / PATHS[o]) for o in stage_outputs(stage)} == info["outputs"]


def test_pari_code_in_a_generator_runs_nothing(template, tmp_path):
    """A generator ``system("touch ...")`` in the curve table: refused by name before PARI
    sees it, and the command never runs."""
    marker = tmp_path / "pwned"
    info = prepare_case(template, tmp_path, "bsd", "curves", "garbage")
    curves = pl.read_parquet(template / PATHS["curves"])
    row = int(curves["gens"].list.len().arg_max())
    label = curves["label"][row]
    hostile = curves.with_columns(pl.when(pl.int_range(pl.len()) == row)
                                  .then(pl.lit([[f'system("touch {marker}")', "0"]],
                                               dtype=curves.schema["gens"]))
                                  .otherwise(pl.col("gens")).alias("gens"))
    hostile.write_parquet(info["case"] / PATHS["curves"])
    result = subprocess.run([sys.executable, "-m", "pipeline.bsd"], cwd=info["case"],
                            env=_environment(), capture_output=True, text=True,
                            timeout=TIMEOUT + 30)
    assert result.returncode != 0 and not marker.exists()
    assert f"{PATHS['curves']}: column 'gens', row {row} ({label})" in result.stderr
    assert "system(" in result.stderr and len(result.stderr) < 2000


def test_pari_never_evaluates_a_coordinate(pari, tmp_path):
    """Past the table checks, the curve check itself parses numbers and never evaluates text."""
    from arithmetic.curves import CurveError, checked_curve
    marker = tmp_path / "pwned"
    for hostile in [f'system("touch {marker}")', "1+1", "0;system(\"id\")", "1/0", "0x10",
                    f'externstr("touch {marker}")', "1e5"]:
        with pytest.raises(CurveError, match=r"data/curves.parquet row 7: 37a1: generator 1: "
                                             r"generator coordinate .* is not a rational"):
            checked_curve(pari, "37a1", 37, [0, 0, 1, -1, 0], [(hostile, "0")],
                          where="data/curves.parquet row 7")
    assert not marker.exists()
    huge = "1" + "0" * 5000                       # beyond Python's str -> int digit limit
    with pytest.raises(CurveError, match="not on the curve"):
        checked_curve(pari, "37a1", 37, [0, 0, 1, -1, 0], [(huge, "0")])
    _, _, points = checked_curve(pari, "37a1", 37, [0, 0, 1, -1, 0], [("1/4", "-5/8")])
    assert str(points) == "[[1/4, -5/8]]"


# ------------------------------------------------------- list columns and their inner dtype


@pytest.mark.parametrize("column, values, dtype, expected", [
    ("ainvs", [0.0, -1.0, 1.0, -10.5, -20.0], pl.List(pl.Float64), "lists of integers"),
    ("ainvs", ["0", "-1", "1", "-10", "-20"], pl.List(pl.String), "lists of integers"),
    ("ainvs", [0, -1, 1, -10, -20], pl.List(pl.Decimal(38, 2)), "lists of integers"),
    ("gens", ["0", "0"], pl.List(pl.String), "lists of lists of text"),
    ("gens", [[0, 0]], pl.List(pl.List(pl.Int64)), "lists of lists of text"),
], ids=["ainvs-floats", "ainvs-text", "ainvs-decimal-scale-2", "gens-flat", "gens-integers"])
def test_a_list_column_of_the_wrong_inner_dtype_is_refused(template, tmp_path, column, values,
                                                          dtype, expected):
    from machinery.inputs import InputError, check_table
    curves = pl.read_parquet(template / PATHS["curves"])
    path = tmp_path / "curves.parquet"
    curves.with_columns(pl.Series(column, [values] * len(curves), dtype=dtype)).write_parquet(path)
    with pytest.raises(InputError) as err:
        check_table(path, SPECS["curves"])
    assert str(err.value).startswith(f"{path}: column {column!r} has dtype {dtype}, "
                                     f"expected {expected}")


@pytest.mark.parametrize("dtype", [pl.List(pl.Decimal(38, 0)), pl.List(pl.Int64),
                                   pl.List(pl.Int128), pl.List(pl.Int32)])
def test_the_a_invariants_may_be_any_exact_integer_dtype(template, tmp_path, dtype):
    """The curve table stores Decimal(38, 0) and the reference samples Int64: both are exact."""
    from machinery.inputs import check_table
    for name in ("curves", "bsd", "stein_watkins"):
        path = tmp_path / f"{name}.parquet"
        (pl.read_parquet(template / PATHS[name]).with_columns(pl.col("ainvs").cast(dtype))
         .write_parquet(path))
        check_table(path, SPECS[name])


# --------------------------------------------- the package files of stein_watkins and ingest
#
# Neither stage reads a file of the pipeline: stein_watkins reads a bzip2 text file of the
# wheel passagemath-database-stein-watkins-mini, and ingest (source elldata) the GP tables of
# passagemath-pari-elldata. Each case points the stage at a damaged copy, through the function
# that finds the installed file, and runs the stage in this process as `python -m` runs it.


def run_in_process(stage: str) -> tuple[object, float]:
    """Run ``python -m pipeline.<stage>`` here (its ``__main__`` error handling included): the
    exit code (the message, for an error) and the seconds it took."""
    start = time.monotonic()
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module(f"pipeline.{stage}", run_name="__main__")
    return exit_.value.code, time.monotonic() - start


def scratch_stage(root: Path, stage: str, params: dict) -> dict:
    """A project with ``params`` and sentinel outputs of ``stage``; the outputs' digests."""
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return write_sentinels(root, stage)


@pytest.fixture(scope="module")
def stein_watkins_copy(tmp_path_factory) -> dict:
    """a.000 as installed, up to the first class beyond the test range, as a bzip2 file; and
    the line number of the first curve inside the range."""
    from sources.stein_watkins import data_files
    section = PARAMS["stein_watkins"]
    lines, first = [], None
    with bz2.open(data_files()["a.000"].path, "rt", encoding="ascii") as stream:
        for line in stream:
            lines.append(line)
            if not line.startswith("["):
                conductor = int(line.split()[0])
                if conductor >= section["conductor_max"]:
                    break
            elif first is None and conductor >= section["conductor_min"]:
                first = len(lines)
    path = tmp_path_factory.mktemp("stein-watkins") / "a.000.bz2"
    path.write_bytes(bz2.compress("".join(lines).encode("ascii")))
    return {"path": path, "first": first}


def _bad_line(line: str, fault: str) -> str:
    ainvs, rest = line.split(" ", 1)
    if fault == "wrong_field_count":
        return " ".join(line.split()[:-1]) + "\n"              # the torsion field is gone
    coefficients = ainvs[1:-1].split(",")
    coefficients[3] += ".5"                                    # a4 is no longer an integer
    return f"[{','.join(coefficients)}] {rest}"


def damage_stein_watkins(source: Path, target: Path, fault: str, line: int) -> None:
    data = source.read_bytes()
    if fault == "garbage":
        target.write_bytes(random.Random(0).randbytes(4096))
    elif fault == "truncated":
        target.write_bytes(data[: len(data) // 2])
    else:
        lines = bz2.decompress(data).decode("ascii").splitlines(keepends=True)
        lines[line - 1] = _bad_line(lines[line - 1], fault)
        target.write_bytes(bz2.compress("".join(lines).encode("ascii")))


def readable_lines(data: bytes) -> int:
    """The complete lines that bzip2 data yields before it breaks off (it decompresses in
    blocks of up to 900 kB, so a cut file yields its whole blocks)."""
    try:
        return bz2.BZ2Decompressor().decompress(data).count(b"\n")
    except OSError:
        return 0


STEIN_WATKINS_FAULTS = {      # fault -> the message after file:line
    "garbage": r"cannot read from this line on \(OSError: Invalid data stream\)",
    "truncated": r"cannot read from this line on \(EOFError: Compressed file ended",
    "wrong_field_count": r"not a curve line: '\[-?\d+(,-?\d+){4}\] \S+ \S+'",
    "non_integer_coefficient": r"not a curve line: '\[-?\d+(,-?\d+){2},-?\d+\.5,-?\d+\] ",
}


def test_the_stein_watkins_copy_reads(stein_watkins_copy):
    """The damage is what the cases below refuse: the undamaged copy reads, with curves in
    the range from the line the bad records are put on."""
    from sources.stein_watkins import read_classes
    section = PARAMS["stein_watkins"]
    table = read_classes(stein_watkins_copy["path"], section["conductor_min"],
                         section["conductor_max"])
    assert len(table) > 100
    assert table["sw_line"][0] == f"a.000.bz2:{stein_watkins_copy['first']}"


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("fault", sorted(STEIN_WATKINS_FAULTS))
def test_a_damaged_stein_watkins_file_is_named_by_line(stein_watkins_copy, tmp_path, monkeypatch,
                                                       fault):
    from sources import stein_watkins
    damaged = tmp_path / "package" / "a.000.bz2"
    damaged.parent.mkdir()
    damage_stein_watkins(stein_watkins_copy["path"], damaged, fault, stein_watkins_copy["first"])
    line = (readable_lines(damaged.read_bytes()) + 1 if fault in ("garbage", "truncated")
            else stein_watkins_copy["first"])
    monkeypatch.setattr(stein_watkins, "data_files",
                        lambda: {"a.000": stein_watkins.SteinWatkinsFile("a.000", damaged)})
    before = scratch_stage(tmp_path / "project", "stein_watkins", PARAMS)
    monkeypatch.chdir(tmp_path / "project")
    code, seconds = run_in_process("stein_watkins")
    assert isinstance(code, str) and seconds < TIMEOUT
    assert re.match(rf"stein_watkins: error: {re.escape(str(damaged))}:{line}: "
                    rf"{STEIN_WATKINS_FAULTS[fault]}", code), code
    assert {o: _digest(tmp_path / "project" / PATHS[o])
            for o in stage_outputs("stein_watkins")} == before
    assert not (tmp_path / "project" / PATHS["stein_watkins_chunks"]).exists()


@pytest.fixture(scope="module")
def elldata_table():
    """The installed ell0 (conductors below 1000) and the sha256 its wheel's RECORD gives."""
    from sources.elldata import table_files
    return table_files()[0]


def damage_elldata(text: str, fault: str) -> str | bytes:
    if fault == "garbage":
        return random.Random(0).randbytes(4096)
    if fault == "truncated":
        return text[: len(text) // 2]
    if fault == "wrong_field_count":
        return text.replace('["11a1",[0,-1,1,-10,-20]', '["11a1",[0,-1,1,-10]', 1)
    return text.replace('["11a1",[0,-1,1,-10,-20]', '["11a1",[0,-1,1,-10.5,-20]', 1)


def elldata_message(text: str, fault: str) -> str:
    """What the table reader says of the damage, after the file's path (checksums off)."""
    if fault == "garbage":
        return r"line \d+, column \d+: byte \d+ \(0x[89a-f][0-9a-f]\) is not ASCII text"
    if fault == "truncated":
        return r"line 1, column \d+: malformed GP vector \(Expecting"
    record = text.index('["11a1"') + 1                        # columns count from 1
    if fault == "wrong_field_count":
        return (rf"line 1, column {record}: block 1 \(N=11\), curve 1 \(11a1\): ainvs must be "
                r"5 integers \[a1,a2,a3,a4,a6\], got \[0, -1, 1, -10\]")
    point = text.index("-10,-20", record) + len("-10") + 1
    return (rf"line 1, column {point}: malformed GP vector \(unexpected '\.' in a number\)")


ELLDATA_FAULTS = ["garbage", "truncated", "wrong_field_count", "non_integer_coefficient"]


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("verify", [True, False], ids=["checksums", "no_checksums"])
@pytest.mark.parametrize("fault", ELLDATA_FAULTS)
def test_a_damaged_elldata_table_is_named(elldata_table, tmp_path, monkeypatch, fault, verify):
    """With ``ingest.verify_checksums`` the RECORD's sha256 refuses any change to the file as a
    whole; without it the reader names the file, the line and column, and the record."""
    from sources import elldata
    text = elldata_table.path.read_text()
    damaged = tmp_path / "package" / "ell0"
    damaged.parent.mkdir()
    changed = damage_elldata(text, fault)
    damaged.write_bytes(changed if isinstance(changed, bytes) else changed.encode("ascii"))
    monkeypatch.setattr(elldata, "table_files", lambda directory=None: {
        0: elldata.TableFile(damaged, elldata_table.sha256)})
    params = {**PARAMS, "ingest": {**PARAMS["ingest"], "conductor_max": 1000,
                                   "verify_checksums": verify}}
    before = scratch_stage(tmp_path / "project", "ingest", params)
    monkeypatch.chdir(tmp_path / "project")
    code, seconds = run_in_process("ingest")
    assert isinstance(code, str) and seconds < TIMEOUT
    expected = ("wrong checksum: sha256 .* but the passagemath-pari-elldata RECORD says"
                if verify else elldata_message(text, fault))
    assert re.match(rf"ingest: error: {re.escape(str(damaged))}: {expected}", code), code
    assert {o: _digest(tmp_path / "project" / PATHS[o]) for o in stage_outputs("ingest")} == before


def test_the_elldata_copy_reads(elldata_table, tmp_path):
    """The undamaged copy reads, so what the cases above refuse is the damage."""
    from sources.elldata import TableFile, read_table
    copy = tmp_path / "ell0"
    shutil.copy(elldata_table.path, copy)
    records = read_table(TableFile(copy, elldata_table.sha256), 1, 1000)
    assert records[0].label == "11a1" and records[0].ainvs == (0, -1, 1, -10, -20)
