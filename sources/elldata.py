"""Reader for Cremona's elliptic-curve tables as shipped in PARI's ``elldata`` package.

The PyPI wheel ``passagemath-pari-elldata`` carries Cremona's tables (J. E. Cremona, *Algorithms
for modular elliptic curves*, 2nd ed., CUP 1997, and the ``ecdata`` repository) for every
conductor N < 500,000: file ``ellK`` holds the conductors 1000·K <= N < 1000·(K+1) as one GP
vector ``[[N, [label, [a1,a2,a3,a4,a6], [P1, ..., Pr]], ...], ...]``, where the P_i = [x, y] are
Mordell–Weil generators (modulo torsion) of the minimal model given by the a-invariants.

This module only reads and checks the *structure* of those files; the arithmetic checks
(non-singular, conductor, minimality) are in :mod:`arithmetic.curves`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from arithmetic.schemas import CURVE_SCHEMA, ELLDATA_CONDUCTOR_BOUND as CONDUCTOR_BOUND
from sources.wheels import wheel_files

DISTRIBUTION = "passagemath-pari-elldata"
#: Cremona's tables in the wheel stop below CONDUCTOR_BOUND; each file covers 1000 conductors.
CONDUCTORS_PER_FILE = 1000

#: A Cremona curve label: conductor, isogeny class (base-26 letters a..z, ba, ...), number.
CREMONA_LABEL = re.compile(r"(?P<conductor>[1-9]\d*)(?P<iso>[a-z]+)(?P<number>[1-9]\d*)")
#: GP rationals p/q; rewritten to p e q so that JSON reads them, at the same text positions.
_GP_RATIONAL = re.compile(r"(?<=\d)/(?=\d)")
#: Decimal points and exponents never occur in the tables; they would masquerade as rationals.
_NOT_GP_INTEGER = re.compile(r"(?<=\d)[.eE]")
_GP_STRING = re.compile(r'"[^"]*"')
#: What the structure of a GP vector is made of, strings skipped whole (they hold no structure).
_GP_STRUCTURE = re.compile(r'[\[\],]|"[^"]*"')
_SPACE = re.compile(r"\s*")


def _excerpt(value) -> str:
    """``repr(value)``, escaped and cut to 60 characters (the tables are not trusted)."""
    text = repr(value)
    return text[:60] + ("..." if len(text) > 60 else "")


class GpRational(str):
    """A GP rational ``p/q`` read from a table, kept as its exact text."""


class ElldataError(ValueError):
    """The embedded tables are missing, altered or malformed; the message names file and place."""


@dataclass(frozen=True)
class TableFile:
    """One ``ellK`` file and the sha256 the wheel's RECORD gives for it (None if not recorded)."""
    path: Path
    sha256: str | None

    @property
    def first_conductor(self) -> int:
        return int(self.path.name.removeprefix("ell")) * CONDUCTORS_PER_FILE


@dataclass(frozen=True)
class CurveRecord:
    """One curve as the table gives it, plus where it stands (file, conductor block, record)."""
    label: str
    isogeny_class: str
    number: int
    conductor: int
    ainvs: tuple[int, int, int, int, int]
    gens: tuple[tuple[str, str], ...]
    where: str


def _line_column(text: str | bytes, offset: int) -> tuple[int, int]:
    """The line and column (from 1) of ``offset`` in ``text``."""
    newline = "\n" if isinstance(text, str) else b"\n"
    return (text.count(newline, 0, offset) + 1,
            offset - (text.rfind(newline, 0, offset) + 1) + 1)


def _place(text: str, indices: tuple[int, ...]) -> str:
    """``line L, column C`` of the element at ``indices`` (from the outermost vector in, from 0)
    of the GP vector ``text``. The tables are a single line, so the column is what finds a
    record; only called on an error, as it walks the text."""
    target, counters = list(indices), []    # counters: the element index at each open bracket
    for token in _GP_STRUCTURE.finditer(text):
        mark = token.group()
        if mark == "]":
            if not counters:
                break
            counters.pop()
            continue
        if mark == "[":
            counters.append(0)
        elif mark == ",":
            if not counters:
                break
            counters[-1] += 1
        else:
            continue
        if counters == target:
            line, column = _line_column(text, _SPACE.match(text, token.end()).end())
            return f"line {line}, column {column}"
    return "place not found"                # only for indices the parser did not read


def table_files(directory: Path | None = None) -> dict[int, TableFile]:
    """The ``ellK`` files by K, from the installed wheel (or from ``directory``, unchecked)."""
    if directory is not None:
        files = sorted(Path(directory).glob("ell[0-9]*"))
        return {int(p.name[3:]): TableFile(p, None) for p in files}
    found = {}
    for entry in wheel_files(DISTRIBUTION, "elldata", r"ell\d+", ElldataError,
                             "lists no elldata/ellK files"):
        digest = None
        if entry.hash is not None and entry.hash.mode == "sha256":
            digest = entry.hash.value
        found[int(entry.name[3:])] = TableFile(Path(entry.locate()), digest)
    return found


def files_for_range(conductor_min: int, conductor_max: int,
                    files: dict[int, TableFile]) -> list[TableFile]:
    """The table files holding conductors ``conductor_min <= N < conductor_max``."""
    if conductor_max > CONDUCTOR_BOUND:
        raise ElldataError(f"the embedded tables cover conductors < {CONDUCTOR_BOUND}, "
                           f"asked for conductors < {conductor_max}")
    wanted = range(conductor_min // CONDUCTORS_PER_FILE,
                   (conductor_max - 1) // CONDUCTORS_PER_FILE + 1)
    missing = [k for k in wanted if k not in files]
    if missing:
        raise ElldataError(f"{DISTRIBUTION}: table files missing: "
                           + ", ".join(f"ell{k}" for k in missing[:10]))
    return [files[k] for k in wanted]


def read_text(table: TableFile, verify: bool = True) -> str:
    """The file's text, after checking its sha256 against the wheel's RECORD."""
    try:
        raw = table.path.read_bytes()
    except OSError as err:
        raise ElldataError(f"{table.path}: cannot read: {err.strerror}") from None
    if verify and table.sha256 is not None:
        actual = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()
        if actual != table.sha256:
            raise ElldataError(f"{table.path}: wrong checksum: sha256 {actual}, but the "
                               f"{DISTRIBUTION} RECORD says {table.sha256}; reinstall the package")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as err:
        line, column = _line_column(raw, err.start)
        raise ElldataError(f"{table.path}: line {line}, column {column}: byte {err.start} "
                           f"({raw[err.start]:#04x}) is not ASCII text") from None


def parse_gp_vector(text: str, source: str) -> list:
    """Parse a GP vector of integers, rationals, strings and vectors.

    Rationals come back as :class:`GpRational` text ``"p/q"``; integers as ``int``. A syntax
    error names the line and column in ``source``.
    """
    def rational(token: str) -> GpRational:
        numerator, denominator = token.split("e")
        return GpRational(f"{numerator}/{denominator}")

    blanked = _GP_STRING.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)
    stray = _NOT_GP_INTEGER.search(blanked)
    if stray is not None:
        line, column = _line_column(text, stray.start())
        raise ElldataError(f"{source}: line {line}, column {column}: malformed GP vector "
                           f"(unexpected {stray.group()!r} in a number)")
    try:
        return json.loads(_GP_RATIONAL.sub("e", text), parse_float=rational)
    except json.JSONDecodeError as err:
        raise ElldataError(f"{source}: line {err.lineno}, column {err.colno}: "
                           f"malformed GP vector ({err.msg})") from None


def _coordinate(value, where: str) -> str:
    """A coordinate as exact text. Some have thousands of digits (over Python's default limit
    for int <-> str), so they stay text; PARI reads them and checks the point is on the curve."""
    if isinstance(value, bool) or not isinstance(value, (int, GpRational)):
        raise ElldataError(f"{where}: generator coordinate {_excerpt(value)} "
                           "is not a rational number")
    return str(value)


def _curve(entry, conductor: int, where: str, source: Path) -> CurveRecord:
    """The record ``entry`` of the block of ``conductor``; its errors name it by ``where`` (block
    and curve), and the record keeps ``where`` behind the file ``source`` for the curve checks."""
    if not (isinstance(entry, list) and len(entry) == 3):
        raise ElldataError(f"{where}: expected [label, ainvs, gens], got {_excerpt(entry)}")
    label, ainvs, gens = entry
    match = CREMONA_LABEL.fullmatch(label) if isinstance(label, str) else None
    if match is None:
        raise ElldataError(f"{where}: {_excerpt(label)} is not a Cremona label")
    where = f"{where} ({label})"
    if int(match["conductor"]) != conductor:
        raise ElldataError(f"{where}: label conductor differs from the block's "
                           f"conductor {conductor}")
    if not (isinstance(ainvs, list) and len(ainvs) == 5
            and all(isinstance(a, int) and not isinstance(a, bool) for a in ainvs)):
        raise ElldataError(f"{where}: ainvs must be 5 integers [a1,a2,a3,a4,a6], "
                           f"got {_excerpt(ainvs)}")
    if any(abs(a) >= 10**38 for a in ainvs):
        raise ElldataError(f"{where}: an a-invariant has more than 38 digits, "
                           "beyond the table schema")
    if not (isinstance(gens, list) and all(isinstance(p, list) and len(p) == 2 for p in gens)):
        raise ElldataError(f"{where}: gens must be a vector of points [x, y], got {_excerpt(gens)}")
    return CurveRecord(
        label=label, isogeny_class=f"{conductor}{match['iso']}", number=int(match["number"]),
        conductor=conductor, ainvs=tuple(ainvs),
        gens=tuple((_coordinate(x, where), _coordinate(y, where)) for x, y in gens),
        where=f"{source}: {where}")


def read_table(table: TableFile, conductor_min: int, conductor_max: int,
               verify: bool = True) -> list[CurveRecord]:
    """Curves of one table file with ``conductor_min <= N < conductor_max``, in table order.

    A malformed block or record raises :class:`ElldataError` naming the file, the line and
    column where it starts, and the block and curve."""
    name = table.path.name
    text = read_text(table, verify)
    blocks = parse_gp_vector(text, str(table.path))
    if not isinstance(blocks, list):
        raise ElldataError(f"{table.path}: expected a vector of conductor blocks")
    records: list[CurveRecord] = []
    previous = 0
    for i, block in enumerate(blocks, start=1):
        indices = (i - 1,)                  # the element a structure error points at
        try:
            where = f"block {i}"
            if not (isinstance(block, list) and len(block) >= 2 and isinstance(block[0], int)):
                raise ElldataError(f"{where}: expected [N, curve, ...], got {_excerpt(block)}")
            conductor = block[0]
            if not (table.first_conductor <= conductor
                    < table.first_conductor + CONDUCTORS_PER_FILE):
                raise ElldataError(f"{where}: conductor {conductor} does not belong in {name}")
            if conductor <= previous:
                raise ElldataError(f"{where}: conductor {conductor} out of order after "
                                   f"{previous}")
            previous = conductor
            if conductor_min <= conductor < conductor_max:
                for j, entry in enumerate(block[1:], start=1):
                    indices = (i - 1, j)
                    records.append(_curve(entry, conductor,
                                          f"{where} (N={conductor}), curve {j}", table.path))
        except ElldataError as err:
            raise ElldataError(f"{table.path}: {_place(text, indices)}: {err}") from None
    return records


def read_curves(conductor_min: int, conductor_max: int) -> pl.DataFrame:
    """All curves with ``conductor_min <= N < conductor_max`` from the installed tables, with
    checksums and structure checked (no PARI checks: those are the ingest stage's)."""
    tables = files_for_range(conductor_min, conductor_max, table_files())
    return curves_frame([r for t in tables for r in read_table(t, conductor_min, conductor_max)])


def ainvs_series(ainvs: list[list[int]]) -> pl.Series:
    """a-invariants as the curve table stores them: lists of exact decimals (they outgrow 64
    bits)."""
    return pl.Series("ainvs", ainvs, dtype=pl.List(pl.Int128)).cast(CURVE_SCHEMA["ainvs"])


def curves_frame(records: list[CurveRecord]) -> pl.DataFrame:
    """The curve records as a table with :data:`arithmetic.schemas.CURVE_SCHEMA`."""
    return pl.DataFrame(
        {
            "label": [r.label for r in records],
            "isogeny_class": [r.isogeny_class for r in records],
            "number": [r.number for r in records],
            "conductor": [r.conductor for r in records],
            "ainvs": ainvs_series([list(r.ainvs) for r in records]),
            "gens": [[list(p) for p in r.gens] for r in records],
        },
    ).cast(CURVE_SCHEMA)
