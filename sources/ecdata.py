"""Readers for the text files of Cremona's ecdata repository (J. E. Cremona, *Algorithms for
Modular Elliptic Curves*, 2nd ed. 1997, and github.com/JohnCremona/ecdata), one per format:

- ``allcurves``: ``N class number [a1,a2,a3,a4,a6] rank torsion``
- ``allbsd``: ``N class number [ainvs] rank torsion tamagawa_product real_period special_value
  regulator sha_an`` (special_value = L^(r)(E,1)/r!; real_period = Ω times the number of real
  components, as in :mod:`arithmetic.bsd`)
- ``aplist``: ``N class`` then a_p for the 25 primes p < 100, the Atkin–Lehner sign ``+``/``-``
  at a bad p < 100, and ``+(p)``/``-(p)`` for a bad p > 100 (one line per isogeny class)
- ``allbigsha``: ``N class number [ainvs] rank torsion sha``

Each reader takes the file's text and a ``source`` (its URL or path) and returns a polars frame
with the column names of the embedded tables (``label``, ``isogeny_class``, ``number``,
``conductor``, ``ainvs``, ...); a malformed line raises :class:`EcdataError` naming
``source:line`` and the field.
"""
from __future__ import annotations

import re

import polars as pl

from arithmetic.primes import primes_up_to
from arithmetic.schemas import CURVE_SCHEMA
from arithmetic.traces import ap_column
from sources.elldata import ainvs_series

#: The primes of an aplist line, in order.
APLIST_PRIMES = primes_up_to(100)
_AINVS = re.compile(r"\[(-?\d+(?:,-?\d+){4})\]")
_SIGN = re.compile(r"([+-])\((\d+)\)")


#: Characters of a refused field quoted in an error (the data is not trusted to be short).
EXCERPT = 40


def excerpt(value) -> str:
    """``repr(value)``, escaped and cut to :data:`EXCERPT` characters."""
    text = repr(value)
    return text[:EXCERPT] + ("..." if len(text) > EXCERPT else "")


class EcdataError(ValueError):
    """A line of an ecdata file does not have its format; the message names file and line."""


def _lines(text: str, source: str):
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{source}:{number}", line.split()


def _integer(value: str, where: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise EcdataError(f"{where}: {field} {excerpt(value)} is not an integer") from None


def _real(value: str, where: str, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise EcdataError(f"{where}: {field} {excerpt(value)} is not a number") from None


def _curve(fields: list[str], where: str, count: int) -> dict:
    """The common head ``N class number [ainvs]`` of a curve line with ``count`` fields."""
    if len(fields) != count:
        raise EcdataError(f"{where}: {len(fields)} fields, expected {count}")
    conductor = _integer(fields[0], where, "conductor")
    iso, number = fields[1], _integer(fields[2], where, "curve number")
    if not re.fullmatch(r"[a-z]+", iso):
        raise EcdataError(f"{where}: isogeny class {excerpt(iso)} is not a Cremona class code")
    match = _AINVS.fullmatch(fields[3])
    if match is None:
        raise EcdataError(f"{where}: ainvs {excerpt(fields[3])} is not [a1,a2,a3,a4,a6]")
    return {"label": f"{conductor}{iso}{number}", "isogeny_class": f"{conductor}{iso}",
            "number": number, "conductor": conductor,
            "ainvs": [int(a) for a in match.group(1).split(",")]}


#: The curve table's columns that precede the a-invariants.
_CURVE_SCHEMA = {name: CURVE_SCHEMA[name] for name in ("label", "isogeny_class", "number",
                                                       "conductor")}
_INTEGER, _REAL = (_integer, pl.Int64), (_real, pl.Float64)
#: The fields after ``N class number [ainvs]`` of each curve format: (name, (parser, dtype)).
_FORMATS = {
    "allcurves": [("rank", _INTEGER), ("torsion", _INTEGER)],
    "allbsd": [("rank", _INTEGER), ("torsion", _INTEGER), ("tamagawa_product", _INTEGER),
               ("real_period", _REAL), ("special_value", _REAL), ("regulator", _REAL),
               ("sha_an", _REAL)],
    "allbigsha": [("rank", _INTEGER), ("torsion", _INTEGER), ("sha", _INTEGER)],
}


def _read_curves(text: str, source: str, kind: str, with_record: bool = False) -> pl.DataFrame:
    fields = _FORMATS[kind]
    rows, records = [], []
    for where, values in _lines(text, source):
        row = _curve(values, where, 4 + len(fields))
        row.update({name: parse(value, where, name)
                    for (name, (parse, _)), value in zip(fields, values[4:])})
        rows.append(row)
        records.append(where)
    ainvs = ainvs_series([row.pop("ainvs") for row in rows])
    frame = pl.DataFrame(rows, schema={**_CURVE_SCHEMA,
                                       **{name: dtype for name, (_, dtype) in fields}})
    frame = frame.insert_column(4, ainvs)
    if with_record:     # where each curve stands (source:line), for the checks that follow
        frame = frame.with_columns(pl.Series("record", records, dtype=pl.String))
    return frame


def read_allcurves(text: str, source: str, with_record: bool = False) -> pl.DataFrame:
    """``with_record``: add a ``record`` column ``source:line`` naming each curve's line."""
    return _read_curves(text, source, "allcurves", with_record)


def read_allbsd(text: str, source: str) -> pl.DataFrame:
    return _read_curves(text, source, "allbsd")


def read_allbigsha(text: str, source: str) -> pl.DataFrame:
    return _read_curves(text, source, "allbigsha")


def read_aplist(text: str, source: str) -> pl.DataFrame:
    """One row per isogeny class: ``isogeny_class``, ``conductor``, ``ap_<p>`` for p < 100 in
    the aplist convention of :mod:`arithmetic.traces` (a_p at good p, w_p = ±1 at bad p), and
    ``large_bad_primes``: the bad primes p > 100 with their w_p, as ``[[p, w_p], ...]``."""
    rows = []
    for where, fields in _lines(text, source):
        head = len(APLIST_PRIMES) + 2
        if len(fields) < head:
            raise EcdataError(f"{where}: {len(fields)} fields, expected at least {head}")
        conductor = _integer(fields[0], where, "conductor")
        row = {"isogeny_class": f"{conductor}{fields[1]}", "conductor": conductor}
        for p, value in zip(APLIST_PRIMES, fields[2:head]):
            bad = conductor % p == 0
            if value in "+-" and bad:
                row[ap_column(p)] = 1 if value == "+" else -1
            elif not bad:
                row[ap_column(p)] = _integer(value, where, f"a_{p}")
            else:
                raise EcdataError(f"{where}: p = {p} divides N = {conductor}, so a sign + or - "
                                  f"is expected, got {excerpt(value)}")
        extra = []
        for value in fields[head:]:
            match = _SIGN.fullmatch(value)
            if match is None or conductor % int(match.group(2)):
                raise EcdataError(f"{where}: {excerpt(value)} is not a sign +(p) or -(p) "
                                  "of a bad prime")
            extra.append([int(match.group(2)), 1 if match.group(1) == "+" else -1])
        row["large_bad_primes"] = extra
        rows.append(row)
    schema = {"isogeny_class": pl.String, "conductor": pl.Int64,
              **{ap_column(p): pl.Int16 for p in APLIST_PRIMES},
              "large_bad_primes": pl.List(pl.List(pl.Int64))}
    return pl.DataFrame(rows, schema=schema)


def cremona_order(table: pl.DataFrame) -> pl.DataFrame:
    """Curves in the order of Cremona's tables: by conductor, then class code as a number in
    base 26 (a, ..., z, ba, bb, ...: shorter codes first), then curve number."""
    code = pl.col("isogeny_class").str.extract(r"([a-z]+)$")
    return table.sort(pl.col("conductor"), code.str.len_chars(), code, pl.col("number"))
