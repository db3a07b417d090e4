"""Arithmetic checks of a curve record from the tables, with PARI.

A record of Cremona's tables must be a non-singular Weierstrass equation, the global minimal
model of its curve, whose conductor is the N of its label, and its generators must lie on it.
PARI's ``ellglobalred`` runs Tate's algorithm prime by prime (Cremona 1997, §3.2; Silverman,
*Advanced Topics*, IV.9) and returns the conductor and the change of variables to the minimal model.
"""
from __future__ import annotations

import cypari2

_IDENTITY_CHANGE = [1, 0, 0, 0]
_NO_POINTS: tuple = ()     # rank 0: no generators to parse or check


class CurveError(ValueError):
    """A curve of the tables fails an arithmetic check; the message names the curve."""


def checked_curve(pari: cypari2.Pari, label: str, conductor: int, ainvs, gens, where: str = "",
                  precision: int = 0):
    """``(ellinit(ainvs), ellglobalred(E), gens as a PARI vector)``, after checking the curve
    against its label and generators.

    ``gens`` are pairs of rational strings; ``where`` says where the record stands (file, block);
    ``precision``: bits of the curve's real data (periods), 0 for cypari2's 64 (the checks
    here are exact).
    """
    name = f"{where}: {label}" if where else label
    curve = pari.ellinit([int(a) for a in ainvs], precision=precision)
    if len(curve) == 0:
        raise CurveError(f"{name}: singular curve, ainvs {list(ainvs)} have discriminant 0")
    reduction = pari.ellglobalred(curve)
    if int(reduction[0]) != conductor:
        raise CurveError(f"{name}: conductor from ellglobalred is {reduction[0]}, "
                         f"the table says {conductor}")
    if [int(u) for u in reduction[1]] != _IDENTITY_CHANGE:
        raise CurveError(f"{name}: ainvs {list(ainvs)} are not the global minimal model "
                         f"(change of variables to it: {reduction[1]})")
    points = pari("[" + ",".join(f"[{x},{y}]" for x, y in gens) + "]") if gens else _NO_POINTS
    for point, (x, y) in zip(points, gens):
        if not pari.ellisoncurve(curve, point):
            raise CurveError(f"{name}: generator [{x}, {y}] is not on the curve")
    return curve, reduction, points
