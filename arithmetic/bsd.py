r"""The quantities of the Birch–Swinnerton-Dyer formula for elliptic curves over Q, with PARI.

For E/Q of rank r the BSD conjecture (Birch–Swinnerton-Dyer 1965; Tate 1974; in the form of
Cremona 1997, §3.8) reads

    L^(r)(E, 1) / r!  =  Ω_E · Reg(E) · #Ш(E) · ∏_p c_p  /  #E(Q)_tors²

with Ω_E the real period (the least positive real period of the Néron differential times the
number of connected components of E(R)), Reg(E) the determinant of the Néron–Tate height pairing
on generators of E(Q) modulo torsion, and c_p the Tamagawa numbers. Solving for #Ш gives the
*analytic order* ``sha_an``; when Ш is finite it is a perfect square (Cassels 1962), so a value
far from a square means the data or the computation is wrong.

The L-function, hence the analytic rank, the leading coefficient and the root number, is an
invariant of the isogeny class (isogenous curves have the same a_p), so it is computed once per
class. PARI 2.15's ``ellheight`` is normalized as in BSD (twice Silverman's 1988 height).
"""
from __future__ import annotations

import math
from math import factorial

import cypari2
import polars as pl

from arithmetic.curves import CurveError, checked_curve
from arithmetic.schemas import BSD_SCHEMA, KEY_COLUMNS

#: j-invariants of the 13 CM curves over Q and the discriminants of their endomorphism rings
#: (Silverman, *Advanced Topics in the Arithmetic of Elliptic Curves*, Appendix A, §3).
CM_DISCRIMINANT = {
    0: -3, 54000: -12, -12288000: -27, 1728: -4, 287496: -16, -3375: -7, 16581375: -28,
    8000: -8, -32768: -11, -884736: -19, -884736000: -43, -147197952000: -67,
    -262537412640768000: -163,
}


class BsdError(ValueError):
    """A BSD quantity fails a consistency check; the message names the curve."""


def class_l_data(pari: cypari2.Pari, curve, precision: int) -> tuple[int, object, int]:
    """(analytic rank r, L^(r)(E,1)/r! as a PARI real, root number) of E's isogeny class.

    ``ellanalyticrank`` returns [r, L^(r)(E,1)], the first non-vanishing derivative at s = 1,
    computed to ``precision`` bits (PARI's lfun sums the L-series to that accuracy).
    """
    rank, derivative = pari.ellanalyticrank(curve, precision=precision)
    rank = int(rank)
    return rank, derivative / factorial(rank), int(pari.ellrootno(curve))


def nearest_square_root(sha_an: float, tolerance: float, label: str) -> int:
    """s with |sha_an − s²| <= tolerance and s >= 1, else :class:`BsdError` naming the curve.

    In double precision: its 53 bits resolve |sha_an − s²| to about 1e-16·s², far below any
    tolerance used here for the Sha orders of the tables (at most a few thousand)."""
    root = round(math.sqrt(sha_an)) if sha_an > 0 else 0
    if root < 1 or abs(sha_an - root * root) > tolerance:
        raise BsdError(f"{label}: analytic Sha = {sha_an:.12g} is not within "
                       f"{tolerance:g} of a perfect square")
    return root


def curve_bsd(pari: cypari2.Pari, row: dict, checked: tuple, l_data: tuple,
              sha_tolerance: float, precision: int) -> dict:
    """The BSD quantities of one curve (a row of the curve table), given what
    :func:`checked_curve` returned for it (at ``precision`` bits) and its class's L-data.

    The regulator is computed to ``precision`` bits: the Néron–Tate height of a generator with
    coordinates of hundreds of digits loses many bits to cancellation (495198m3 in 64 bits:
    regulator 55.03129 instead of 55.03086, Sha 0.999992)."""
    label = row["label"]
    rank, special_value, root_number = l_data
    curve, reduction, points = checked
    if len(row["gens"]) != rank:
        raise BsdError(f"{label}: analytic rank {rank} but the table gives "
                       f"{len(row['gens'])} generators")
    torsion = pari.elltors(curve)
    torsion_order, tamagawa = int(torsion[0]), reduction[2]
    discriminant = curve.disc()
    components = 2 if discriminant > 0 else 1
    real_period = curve.omega()[0] * components
    if rank:
        regulator = pari.matdet(pari.ellheightmatrix(curve, points, precision=precision))
    else:
        regulator = pari(1)
    sha_an = float(special_value * torsion_order**2 / (real_period * regulator * tamagawa))
    root = nearest_square_root(sha_an, sha_tolerance, label)
    j = curve.j()
    return {
        "rank": rank,
        "torsion": torsion_order,
        "torsion_structure": [int(n) for n in torsion[1]],
        "tamagawa_product": int(tamagawa),
        "real_components": components,
        "real_period": float(real_period),
        "regulator": float(regulator),
        "special_value": float(special_value),
        "sha_an": sha_an,
        "sha": root * root,
        "root_number": root_number,
        "discriminant": str(discriminant),
        "jinv": str(j),
        "cm": CM_DISCRIMINANT.get(int(j), 0) if j.type() == "t_INT" else 0,
        "semistable": bool(pari.issquarefree(row["conductor"])),
    }


def bsd_table(pari: cypari2.Pari, curves: pl.DataFrame, sha_tolerance: float, precision: int,
              lfunction_precision: int) -> pl.DataFrame:
    """BSD quantities for a table of curves (whole isogeny classes, each class contiguous):
    periods and regulators to ``precision`` bits, L-values to ``lfunction_precision`` bits.

    Takes the columns of ``data/curves.parquet``; returns :data:`KEY_COLUMNS` + :data:`BSD_SCHEMA`.
    Raises :class:`BsdError` / :class:`CurveError` naming the first curve that fails a check.
    """
    rows, l_data, current_class, seen = [], None, None, set()
    for row in curves.select([*KEY_COLUMNS, "gens"]).iter_rows(named=True):
        checked = checked_curve(pari, row["label"], row["conductor"], row["ainvs"], row["gens"],
                                precision=precision)
        if row["isogeny_class"] != current_class:
            current_class = row["isogeny_class"]
            if current_class in seen:
                raise BsdError(f"{row['label']}: isogeny class {current_class} is not contiguous")
            seen.add(current_class)
            l_data = class_l_data(pari, checked[0], lfunction_precision)
            if (-1) ** l_data[0] != l_data[2]:
                raise BsdError(f"{row['label']}: analytic rank {l_data[0]} has the wrong parity "
                               f"for root number {l_data[2]}")
        rows.append(curve_bsd(pari, row, checked, l_data, sha_tolerance, precision))
    computed = pl.DataFrame(rows, schema=BSD_SCHEMA)
    return pl.concat([curves.select(KEY_COLUMNS), computed], how="horizontal")


__all__ = ["BSD_SCHEMA", "BsdError", "CurveError", "KEY_COLUMNS", "bsd_table", "class_l_data",
           "curve_bsd", "nearest_square_root"]
