"""Arithmetic checks of a curve record from the tables, with PARI.

A record of Cremona's tables must be a non-singular Weierstrass equation, the global minimal
model of its curve, whose conductor is the N of its label, and its generators must lie on it.
PARI's ``ellglobalred`` runs Tate's algorithm prime by prime (Cremona 1997, §3.2; Silverman,
*Advanced Topics*, IV.9) and returns the conductor and the change of variables to the minimal model.
"""
from __future__ import annotations

import re

import cypari2

_IDENTITY_CHANGE = [1, 0, 0, 0]
_NO_POINTS: tuple = ()     # rank 0: no generators to parse or check
#: An exact rational as the tables write it: an integer or p/q, nothing else.
_RATIONAL = re.compile(r"(?P<numerator>-?\d+)(?:/(?P<denominator>\d+))?")
#: Decimal digits converted at once: Python refuses str -> int beyond 4300 digits, and some
#: generators of the tables have more, so longer numbers are read piece by piece.
_DIGITS_AT_ONCE = 4000
#: Characters of a refused coordinate quoted in an error.
_EXCERPT = 40


class CurveError(ValueError):
    """A curve of the tables fails an arithmetic check; the message names the curve."""


def _natural(digits: str) -> int:
    value = 0
    for start in range(0, len(digits), _DIGITS_AT_ONCE):
        piece = digits[start:start + _DIGITS_AT_ONCE]
        value = value * 10 ** len(piece) + int(piece)
    return value


def parse_rational(pari: cypari2.Pari, text, where: str):
    """The PARI rational (t_INT or t_FRAC) written ``text`` (``-12`` or ``-3/4``), built from
    Python integers: data is parsed here and never handed to PARI's interpreter, which would
    run any GP code it held (``system(...)``, file I/O). :class:`CurveError` naming ``where``
    and a short escaped excerpt for anything else."""
    match = _RATIONAL.fullmatch(text) if isinstance(text, str) else None
    if match is None or match["denominator"] is not None and not match["denominator"].strip("0"):
        excerpt = repr(text)[:_EXCERPT] + ("..." if len(repr(text)) > _EXCERPT else "")
        raise CurveError(f"{where}: generator coordinate {excerpt} is not a rational number p/q")
    numerator = match["numerator"]
    sign = -1 if numerator.startswith("-") else 1
    value = pari(sign * _natural(numerator.lstrip("-")))
    if match["denominator"] is not None:
        value = value / pari(_natural(match["denominator"]))
    return value


def parse_points(pari: cypari2.Pari, gens, where: str) -> list:
    """``gens`` (pairs of rational strings) as a list of PARI points ``[x, y]`` built from
    numbers."""
    points = []
    for number, point in enumerate(gens, start=1):
        if isinstance(point, str) or len(point) != 2:
            raise CurveError(f"{where}: generator {number} is not a pair [x, y]")
        points.append(pari([parse_rational(pari, c, f"{where}: generator {number}")
                            for c in point]))
    return points


def checked_curve(pari: cypari2.Pari, label: str, conductor: int, ainvs, gens, where: str = "",
                  precision: int = 0):
    """``(ellinit(ainvs), ellglobalred(E), gens as a PARI vector)``, after checking the curve
    against its label and generators.

    ``gens`` are pairs of rational strings; ``where`` says where the record stands (file, block);
    ``precision``: bits of the curve's real data (periods), 0 for cypari2's 64 (the checks
    here are exact).
    """
    name = f"{where}: {label}" if where else label
    ainvs = [int(a) for a in ainvs]
    curve = pari.ellinit(ainvs, precision=precision)
    if len(curve) == 0:
        raise CurveError(f"{name}: singular curve, ainvs {ainvs} have discriminant 0")
    reduction = pari.ellglobalred(curve)
    if int(reduction[0]) != conductor:
        raise CurveError(f"{name}: conductor from ellglobalred is {reduction[0]}, "
                         f"the table says {conductor}")
    if [int(u) for u in reduction[1]] != _IDENTITY_CHANGE:
        raise CurveError(f"{name}: ainvs {ainvs} are not the global minimal model "
                         f"(change of variables to it: {reduction[1]})")
    points = pari(parse_points(pari, gens, name)) if gens else _NO_POINTS
    for point, (x, y) in zip(points, gens):
        if not pari.ellisoncurve(curve, point):
            raise CurveError(f"{name}: generator [{x}, {y}] is not on the curve")
    return curve, reduction, points
