"""Arithmetic checks of table records: singular curves, conductors, minimality, generators."""
from __future__ import annotations

import pytest

from arithmetic.curves import CurveError, checked_curve


def test_a_good_curve_passes(pari):
    curve, reduction, points = checked_curve(pari, "37a1", 37, [0, 0, 1, -1, 0], [("0", "0")])
    assert int(reduction[0]) == 37 and int(reduction[2]) == 1 and str(points) == "[[0, 0]]"


def test_singular_curve(pari):
    with pytest.raises(CurveError,
                       match=r"ell0: block 1: 11a1: singular curve, ainvs \[0, 0, 0, 0, 0\]"):
        checked_curve(pari, "11a1", 11, [0, 0, 0, 0, 0], [], where="ell0: block 1")


def test_conductor_disagreeing_with_ellglobalred(pari):
    with pytest.raises(CurveError,
                       match="13a1: conductor from ellglobalred is 11, the table says 13"):
        checked_curve(pari, "13a1", 13, [0, -1, 1, -10, -20], [])


def test_non_minimal_model(pari):
    # 11a1 scaled by u = 2: a_i -> 2^i a_i
    with pytest.raises(CurveError, match="not the global minimal model"):
        checked_curve(pari, "11a1", 11, [0, -4, 8, -160, -1280], [])


def test_generator_off_the_curve(pari):
    with pytest.raises(CurveError, match=r"37a1: generator \[1, 1\] is not on the curve"):
        checked_curve(pari, "37a1", 37, [0, 0, 1, -1, 0], [("1", "1")])
