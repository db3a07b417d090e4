"""Reader for the Stein–Watkins database of elliptic curves, as shipped by the PyPI wheel
``passagemath-database-stein-watkins-mini``.

W. Stein and M. Watkins, *A database of elliptic curves — first report*, ANTS V (2002), LNCS
2369, 267–275: curves with small coefficients (|c4|, |c6| bounded) grouped into isogeny classes,
with conductor below 10⁸; the mini version holds the files ``a.000`` (all such curves with
N < 10⁵) and ``p.00`` (prime conductors N < 10⁸). Unlike Cremona's tables, a conductor's curves
are not all there: the sample is ordered by coefficient size, a different bias.

Format (bzip2 text, one isogeny class after another). A class line::

    N [p1,p2,...] r L s m

conductor, bad primes, analytic rank, L^(r)(E,1)/r! to six digits, and two fields we do not
use (an isogeny code and modular-degree data). Then one line per curve of the class::

    [a1,a2,a3,a4,a6] (e1,e2,...) S T

the valuations e_i = v_p(Δ) of the minimal discriminant at the bad primes, in ``(...)`` when
Δ < 0 and ``[...]`` when Δ > 0 (so Δ = ±∏ p_i^e_i: checked against PARI on 13,158 curves);
S is "1" or "X" (not used); T is the order of the largest cyclic factor of the torsion, with a
trailing ``x`` when E(Q)_tors ≅ Z/2 × Z/T.
"""
from __future__ import annotations

import bz2
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from sources.wheels import wheel_files

DISTRIBUTION = "passagemath-database-stein-watkins-mini"
_CLASS = re.compile(r"(?P<conductor>[1-9]\d*) \[(?P<primes>[\d,]*)\] (?P<rank>\d+) "
                    r"(?P<value>\d+\.\d+) \S+ \S+")
_CURVE = re.compile(r"\[(?P<ainvs>-?\d+(?:,-?\d+){4})\] (?P<valuations>[(\[][\d,]*[)\]]) "
                    r"\S+ (?P<torsion>\d+)(?P<double>x?)")


class SteinWatkinsError(ValueError):
    """The Stein–Watkins files are missing or malformed; the message names file and line."""


@dataclass(frozen=True)
class SteinWatkinsFile:
    name: str      # "a.000" or "p.00"
    path: Path


def data_files() -> dict[str, SteinWatkinsFile]:
    """The database files of the installed wheel, by name (``a.000``, ``p.00``)."""
    found = {}
    for entry in wheel_files(DISTRIBUTION, "stein_watkins", r".+\.bz2", SteinWatkinsError,
                             "holds no database files"):
        name = entry.name.removesuffix(".bz2")
        found[name] = SteinWatkinsFile(name, Path(entry.locate()))
    return found


def _discriminant(primes: list[int], valuations: str) -> int:
    """±∏ p^e from the class's bad primes and a curve's ``(e,...)`` (Δ < 0) or ``[e,...]``."""
    exponents = [int(e) for e in valuations[1:-1].split(",") if e]
    if len(exponents) != len(primes):
        raise ValueError(f"{len(exponents)} valuations for {len(primes)} bad primes")
    value = 1
    for p, e in zip(primes, exponents):
        value *= p**e
    return -value if valuations.startswith("(") else value


#: The columns of :func:`read_classes`, in the order of the rows :func:`_curve_row` builds.
_SCHEMA = {"label": pl.String, "isogeny_class": pl.String, "number": pl.Int64,
           "conductor": pl.Int64, "ainvs": pl.String, "sw_rank": pl.Int8,
           "sw_special_value": pl.Float64, "sw_discriminant": pl.String,
           "sw_torsion": pl.Int16, "sw_line": pl.String}


def read_classes(path: Path, conductor_min: int, conductor_max: int) -> pl.DataFrame:
    """The curves of ``path`` with conductor_min <= N < conductor_max, one row per curve:
    ``label`` (``sw<N>.<k>.<i>``: the k-th class of conductor N in the file, its i-th curve),
    ``isogeny_class``, ``number``, ``conductor``, ``ainvs``, and the file's ``sw_rank``,
    ``sw_special_value``, ``sw_discriminant``, ``sw_torsion``, ``sw_line`` (file:line).

    The file is sorted by conductor, so reading stops at the first class beyond the range.
    A malformed line, or bzip2 data that cannot be read, raises :class:`SteinWatkinsError`
    naming the file and line (``path:line``); ``sw_line`` names the file without its folder,
    so that the table is the same wherever the wheel is installed.
    """
    # column by column (a frame from 463,116 row dicts took longer than the parsing); the
    # coefficients stay text until polars splits the whole column
    columns: dict[str, list] = {name: [] for name in _SCHEMA}
    for row in _rows(_numbered_lines(path), path, conductor_min, conductor_max):
        for column, value in zip(columns.values(), row):     # in schema order
            column.append(value)
    return _with_coefficients(pl.DataFrame(columns, schema=_SCHEMA), path)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-empty lines of the bzip2 text file ``path``, numbered from 1, without their
    newline. A file that cannot be opened raises naming it; data that cannot be decompressed
    raises naming the line after the last one read: the text is decompressed in blocks, so
    the damage is at that line or after it."""
    try:
        stream = bz2.open(path, "rt", encoding="ascii")
    except OSError as err:
        raise SteinWatkinsError(f"{path}: cannot open: {err}") from None
    number = 0
    try:
        with stream:
            for number, line in enumerate(stream, start=1):
                line = line.rstrip("\n")
                if line:
                    yield number, line
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise SteinWatkinsError(f"{path}:{number + 1}: cannot read from this line on "
                                f"({type(err).__name__}: {err})") from None


def _rows(lines: Iterable[tuple[int, str]], path: Path, conductor_min: int,
          conductor_max: int) -> Iterator[tuple]:
    """The rows (in :data:`_SCHEMA` order) of the curves of ``lines`` (numbered lines of
    ``path``) with conductor_min <= N < conductor_max. The lines are sorted by conductor, so
    the first class line at or beyond ``conductor_max`` ends them; the classes below
    ``conductor_min`` are read all the same, for the numbering of the classes and curves."""
    current, seen = None, {}
    for number, line in lines:
        where = f"{path}:{number}"
        if not line.startswith("["):
            match = _match(_CLASS, line, where, "class")
            conductor = int(match["conductor"])
            if conductor >= conductor_max:
                return
            seen[conductor] = seen.get(conductor, 0) + 1
            current = _isogeny_class(match, seen[conductor])
            continue
        match = _match(_CURVE, line, where, "curve")
        if current is None:
            raise SteinWatkinsError(f"{where}: a curve line before any class line")
        current["curves"] += 1
        if current["conductor"] >= conductor_min:
            yield _curve_row(current, match, where, f"{path.name}:{number}")


def _match(pattern: re.Pattern, line: str, where: str, kind: str) -> re.Match:
    """``pattern``'s full match of ``line``; raises naming ``where`` (file:line) when it is not
    a ``kind`` line."""
    match = pattern.fullmatch(line)
    if match is None:
        raise SteinWatkinsError(f"{where}: not a {kind} line: {line[:80]!r}")
    return match


def _isogeny_class(match: re.Match, index: int) -> dict:
    """The class of a class line's match, the ``index``-th of its conductor in the file
    (``sw<N>.<index>``), with no curve read yet."""
    conductor = int(match["conductor"])
    return {"conductor": conductor, "rank": int(match["rank"]),
            "primes": [int(p) for p in match["primes"].split(",") if p],
            "value": float(match["value"]), "class": f"sw{conductor}.{index}", "curves": 0}


def _curve_row(current: dict, match: re.Match, where: str, sw_line: str) -> tuple:
    """The row (in :data:`_SCHEMA` order) of a curve line's match, the ``current["curves"]``-th
    curve of the class ``current``, read at ``sw_line``. Valuations that do not fit the class's
    bad primes raise naming ``where`` (file:line)."""
    torsion = int(match["torsion"]) * (2 if match["double"] else 1)
    try:
        discriminant = _discriminant(current["primes"], match["valuations"])
    except ValueError as err:
        raise SteinWatkinsError(f"{where}: {err}") from None
    return (f"{current['class']}.{current['curves']}", current["class"], current["curves"],
            current["conductor"], match["ainvs"], current["rank"], current["value"],
            str(discriminant), torsion, sw_line)


def _with_coefficients(table: pl.DataFrame, path: Path) -> pl.DataFrame:
    """``table`` with its ``ainvs`` text split into lists of 64-bit integers. A coefficient
    beyond 64 bits raises naming the first such curve's line of ``path``."""
    ainvs = table["ainvs"].str.split(",").cast(pl.List(pl.Int64), strict=False)
    too_large = table.filter(ainvs.list.eval(pl.element().is_null()).list.any())
    if len(too_large):
        line = too_large["sw_line"][0].rsplit(":", 1)[1]
        raise SteinWatkinsError(f"{path}:{line}: a coefficient beyond 64 bits: "
                                f"[{too_large['ainvs'][0][:80]}]")
    return table.with_columns(ainvs)


def sample_classes(table: pl.DataFrame, classes: int, seed: int) -> pl.DataFrame:
    """A seeded sample of ``classes`` whole isogeny classes (all of them if fewer), in file
    order."""
    names = table["isogeny_class"].unique(maintain_order=True)
    if len(names) > classes:
        names = names.sample(classes, seed=seed)
    return table.filter(pl.col("isogeny_class").is_in(names.implode()))


def check_against_pari(table: pl.DataFrame, computed: pl.DataFrame) -> None:
    """The file's analytic rank, torsion order and minimal discriminant must equal PARI's,
    and its L^(r)(E,1)/r! must agree to the six decimals it prints.
    Raises naming the file line of the first disagreement."""
    for name, ours in (("sw_rank", "rank"), ("sw_torsion", "torsion"),
                       ("sw_discriminant", "discriminant")):
        differs = table.with_columns(computed[ours].alias("pari")).filter(
            pl.col("pari").is_not_null() & (pl.col("pari") != pl.col(name)))
        if len(differs):
            row = differs.row(0, named=True)
            raise SteinWatkinsError(f"{row['sw_line']}: {row['label']}: the file gives "
                                    f"{ours} {row[name]}, PARI computes {row['pari']}")
    # the file prints L^(r)(E,1)/r! with six decimals
    off = table.with_columns(computed["special_value"].alias("pari")).filter(
        (pl.col("pari") - pl.col("sw_special_value")).abs() > 5.1e-7 + 1e-6 * pl.col("pari").abs())
    if len(off):
        row = off.row(0, named=True)
        raise SteinWatkinsError(f"{row['sw_line']}: {row['label']}: the file gives "
                                f"L^(r)(E,1)/r! = {row['sw_special_value']}, PARI computes "
                                f"{row['pari']:.8f}")
