r"""Generators of the Mordell–Weil group E(Q)/E(Q)_tors found with PARI, for sources that publish
the rank but no points (Cremona's ``allcurves``/``allbsd``, the LMFDB's ``ec_curvedata``).

Given the rank r (proved in those tables for every curve they hold):

1. ``ellrank`` (2-descent with a search for points, PARI ≥ 2.15; J. E. Cremona, *Algorithms for
   Modular Elliptic Curves* §3.6, and D. Simon's ``ell.gp``) returns independent points;
2. for r = 1, when the descent finds none (a non-trivial 2-part of Ш hides them),
   ``ellheegner`` gives a Heegner point, of infinite order exactly when the analytic rank is 1
   (Gross–Zagier 1986; Kolyvagin 1989);
3. ``ellsaturation`` makes the points p-saturated for every prime p ≤ ``saturation_bound``
   (S. Siksek, *Infinite descent on elliptic curves*, Rocky Mountain J. Math. 25, 1995).

``ellrank`` searches with PARI's random generator, whose state depends on everything computed
before in the process; it is reset (``setrand``) before each curve, so the generators depend on
the curve alone, not on the chunking, the number of workers or a resumed run.

The points then span a subgroup of index prime to every p ≤ the bound; the regulator computed
from them equals Reg(E) unless the index has a larger prime factor, in which case the analytic
Ш of the ``bsd`` stage is off by that square and its perfect-square check fails, naming the curve.
"""
from __future__ import annotations

import cypari2

from arithmetic.curves import CurveError

#: ``ellrank`` effort levels tried in turn for ranks >= 2.
EFFORTS = (0, 1, 2, 3)
#: PARI's random seed before each curve's search (any fixed value: reproducibility).
RANDOM_SEED = 1


def _independent_points(pari: cypari2.Pari, curve, rank: int) -> list:
    for effort in EFFORTS:
        points = list(pari.ellrank(curve, effort)[3])
        if len(points) >= rank:
            return points
        if rank == 1:
            return [pari.ellheegner(curve)]
    return points


def mordell_weil_basis(pari: cypari2.Pari, curve, rank: int, saturation_bound: int,
                       label: str, descent=None) -> list[list[str]]:
    """Generators of E(Q) modulo torsion for a curve of known rank, as ``[[x, y], ...]`` exact
    rational strings (the ``gens`` column of the curve table); :class:`CurveError` naming the
    curve when PARI finds fewer than ``rank`` independent points. ``descent``: the result of
    ``ellrank`` at effort 0 just after ``setrand(RANDOM_SEED)`` on this curve, if the caller
    has it: the search's own first step, whose points are used when they suffice."""
    if rank == 0:
        return []
    if descent is not None and len(descent[3]) >= rank:
        points = list(descent[3])
    else:
        pari.setrand(RANDOM_SEED)
        points = _independent_points(pari, curve, rank)
    if len(points) != rank:
        raise CurveError(f"{label}: the table gives rank {rank}, but PARI's ellrank found "
                         f"{len(points)} independent points; use ingest.source: elldata, "
                         "whose tables carry generators")
    saturated = pari.ellsaturation(curve, points, saturation_bound)
    return [[str(x), str(y)] for x, y in saturated]
