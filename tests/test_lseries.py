"""L(E,1) and L'(E,1) from the traces (arithmetic/lseries.py) against PARI's values."""
from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from arithmetic.lseries import (central_weights, class_central_values, dirichlet_coefficients,
                                multiplicative_steps, terms_needed, truncated_central_values,
                                vanishing_within_rounding)
from arithmetic.pari import precision_bits
from arithmetic.traces import small_integers
from sources.elldata import read_curves

#: The newform of 11a: q − 2q² − q³ + 2q⁴ + q⁵ + 2q⁶ − 2q⁷ − 2q⁹ − 2q¹⁰ + q¹¹ − 2q¹² + 4q¹³
ELEVEN_A = [0, 1, -2, -1, 2, 1, 2, -2, 0, -2, -2, 1, -2, 4]

#: Conductor and a-invariants of curves of rank 0, 1, 2, 3 (Cremona's tables)
SMALL_CURVES = {"11a1": (11, [0, -1, 1, -10, -20]), "37a1": (37, [0, 0, 1, -1, 0]),
                "389a1": (389, [0, 1, 1, -2, 0]), "5077a1": (5077, [0, 0, 1, -7, 6])}


def aplist(frame: pl.DataFrame) -> dict[int, np.ndarray]:
    return {int(c[3:]): frame[c].to_numpy() for c in frame.columns
            if c.startswith("ap_") and c[3:].isdigit()}


def test_coefficients_of_11a(model_tables):
    frame = model_tables["frame"].filter(pl.col("label") == "11a1")
    coefficients = dirichlet_coefficients(aplist(frame), frame["conductor"].to_numpy(), 13)
    assert coefficients[0].tolist() == ELEVEN_A     # a_11 = 1: split, aplist stores w_11 = −1


def test_central_values_match_pari(model_tables):
    frame = model_tables["frame"]
    conductor = frame["conductor"].to_numpy()
    value, derivative = truncated_central_values(
        dirichlet_coefficients(aplist(frame), conductor, 97), conductor,
        np.full(len(conductor), 97)).T
    labels = frame["label"].to_list()
    assert value[labels.index("11a1")] == pytest.approx(0.253841860855911, rel=1e-12)
    assert derivative[labels.index("37a1")] == pytest.approx(0.305999773834052, rel=1e-12)
    rank, special = frame["rank"].to_numpy(), frame["special_value"].to_numpy()
    for r, sums in ((0, value), (1, derivative)):   # N < 1000: the truncation is below 1e-8
        assert np.max(np.abs(sums[rank == r] / special[rank == r] - 1)) < 1e-8
    assert np.max(np.abs(value[rank == 2])) < 1e-8  # L(E,1) = 0 at rank 2


def test_missing_traces_are_named():
    with pytest.raises(ValueError, match=r"p = \[5, 7\]"):
        dirichlet_coefficients({2: np.array([0]), 3: np.array([0])}, np.array([11]), 10)


def reference_sums(pari, an: list[int], conductor: int) -> tuple[float, float]:
    """The two sums term by term in PARI's reals at 38 digits (``exp``, ``eint1``)."""
    bits = precision_bits(38)
    step = 2 * pari.Pi(precision=bits) / pari.sqrt(conductor, precision=bits)
    value = derivative = 0
    for n, a in enumerate(an, start=1):
        if a:
            value += pari.exp(-step * n) * a / n
            derivative += pari.eint1(step * n) * a / n
    return 2 * float(value), 2 * float(derivative)


def test_class_sums_match_the_term_by_term_reference(pari):
    near = read_curves(490_000, 490_010).row(0, named=True)      # 490006a1: 3,854 terms
    curves = {**SMALL_CURVES,
              near["label"]: (near["conductor"], [int(a) for a in near["ainvs"]])}
    for label, (conductor, ainvs) in curves.items():
        an = small_integers(pari, pari.ellan(pari.ellinit(ainvs), terms_needed(conductor, 1e-15)))
        expected = reference_sums(pari, an, conductor)
        batched = truncated_central_values(np.array([[0, *an]] * 2, dtype=float),
                                           np.array([conductor] * 2), np.array([len(an)] * 2))
        # rank >= 2: both sums vanish, their rounding is absolute
        for sums in (class_central_values(an, conductor), *batched):
            assert tuple(sums) == pytest.approx(expected, rel=1e-12, abs=1e-14), label


def test_multiplicative_steps_cover_every_composite_once():
    """Each n <= 2310 = 2·3·5·7·11 that is not a prime power is one step n = q·m, q the exact
    power of n's least prime, m coprime to q; m is a prime power or an n of an earlier step."""
    seen = {1} | {q ** k for q in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)
                  for k in range(1, 12) if q ** k <= 2310}
    steps = multiplicative_steps(2310)
    assert len(steps) == 4                                    # ω(n) = 2, 3, 4, 5
    for n, q, m in steps:
        for a, b, c in zip(n.tolist(), q.tolist(), m.tolist()):
            least = next(d for d in range(2, a + 1) if a % d == 0)
            assert b * c == a and b % least == 0 and c % least and math.gcd(b, c) == 1
            assert c in seen or (c > 47 and all(c % d for d in range(2, math.isqrt(c) + 1)))
        seen.update(n.tolist())
    expected = [n for n in range(2, 2311)
                if len({d for d in range(2, n + 1) if n % d == 0
                        and all(d % e for e in range(2, math.isqrt(d) + 1))}) >= 2]
    assert sorted(np.concatenate([n for n, _, _ in steps]).tolist()) == expected


def test_truncated_sums_are_the_class_sums_to_the_bit(pari):
    """Row by row from one table of a_n, each row cut to its own length, the sums are those of
    class_central_values on that row's list, bit for bit."""
    an = {label: small_integers(pari, pari.ellan(pari.ellinit(ainvs), 400))
          for label, (_, ainvs) in SMALL_CURVES.items()}
    conductor = np.array([n for n, _ in SMALL_CURVES.values()])
    terms = np.array([terms_needed(int(n), 1e-15) for n in conductor])
    coefficients = np.array([[0, *a] for a in an.values()], dtype=float)
    got = truncated_central_values(coefficients, conductor, terms)
    for row, (a, n, count) in enumerate(zip(an.values(), conductor, terms)):
        assert tuple(got[row]) == class_central_values(a[:count], int(n))


def test_vanishing_sums_are_exactly_zero_in_any_order(pari):
    """L(389a1, 1) = 0 (rank 2) and L'(5077a1, 1) = 0 (rank 3): their sums are rounding noise,
    set to 0 whatever the order of the terms; the sums that do not vanish keep every bit."""
    for label, vanishing in (("389a1", 0), ("5077a1", 1)):
        conductor, ainvs = SMALL_CURVES[label]
        an = small_integers(pari, pari.ellan(pari.ellinit(ainvs), terms_needed(conductor, 1e-15)))
        sums = class_central_values(an, conductor)
        assert sums[vanishing] == 0.0, label
        assert abs(sums[1 - vanishing]) > 0.1, label
        weights = central_weights(conductor, len(an))
        for order in (np.arange(len(an))[::-1], np.random.default_rng(0).permutation(len(an))):
            noise = np.asarray(an)[order] @ weights[order]
            assert vanishing_within_rounding(noise, np.abs(an)[order] @ weights[order],
                                             len(an))[vanishing], label
    an = small_integers(pari, pari.ellan(pari.ellinit(SMALL_CURVES["11a1"][1]), 40))
    expected = np.asarray(an) @ central_weights(11, 40)
    assert class_central_values(an, 11) == (expected[0], expected[1])
