"""c4, c6, discriminant, naive and j heights from exact integers."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest

from arithmetic.weierstrass import (WEIERSTRASS_COLUMNS, c_invariants, log_j_height,
                                    log_naive_height, signed_log, weierstrass_features)

CURVE_11A1 = [0, -1, 1, -10, -20]


def test_c_invariants_of_11a1_agree_with_pari(pari):
    c4, c6 = c_invariants(CURVE_11A1)
    curve = pari.ellinit(CURVE_11A1)
    assert (c4, c6) == (int(curve[9]), int(curve[10])) == (496, 20008)
    assert (c4 ** 3 - c6 ** 2) // 1728 == int(curve[11]) == -161051


def test_features_of_11a1():
    features = dict(zip(WEIERSTRASS_COLUMNS, weierstrass_features(CURVE_11A1)))
    assert features["a4"] == -10.0 and features["a6"] == -20.0
    assert features["slog_c4"] == pytest.approx(math.log(497))
    assert features["slog_discriminant"] == pytest.approx(-math.log(161052))
    # j = -122023936/161051
    assert features["log_j_height"] == pytest.approx(math.log(122023936))
    assert features["log_naive_height"] == pytest.approx(
        math.log(max(4 * (27 * 496) ** 3, 27 * (54 * 20008) ** 2)))


def test_huge_coefficients_stay_exact(pari):
    ainvs = [1, 0, 0, -(2 ** 70) + 3, 2 ** 84 + 1]
    c4, c6 = c_invariants(ainvs)
    curve = pari.ellinit(ainvs)
    assert (c4, c6) == (int(curve[9]), int(curve[10]))
    assert signed_log(-(2 ** 100)) == pytest.approx(-100 * math.log(2))
    assert log_naive_height(c4, c6) > 0


def test_signed_log_and_j_height():
    assert signed_log(0) == 0.0 and signed_log(-1) == pytest.approx(-math.log(2))
    assert log_j_height(Fraction(1728)) == pytest.approx(math.log(1728))
    assert log_j_height(Fraction(0)) == 0.0
