"""a_p by point counts (arithmetic/point_counts.py) against PARI's ``ellan`` and ``ellap``."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from arithmetic.lseries import dirichlet_coefficients
from arithmetic.point_counts import (cyclic_correlations, family_tables, inverses,
                                     legendre_symbols, limbs, residues, traces_by_point_counts)
from arithmetic.primes import primes_up_to
from arithmetic.traces import class_aplists, class_pari_data, small_integers
from sources.elldata import read_curves
from tests.conftest import classes_of

#: Rank 0..3 (11a1, 37a1, 389a1, 5077a1), j = 0 (27a1, 36a1) and j = 1728 (32a1, 64a1).
NAMED = ("11a1", "37a1", "389a1", "5077a1", "27a1", "36a1", "32a1", "64a1")


def direct_traces(chi: np.ndarray, a: int, b: int) -> int:
    """−Σ_x χ(x³ + ax + b), term by term (χ the Legendre symbols mod p = len(chi))."""
    p = len(chi)
    return -sum(int(chi[(x * x * x + a * x + b) % p]) for x in range(p))


def first_curves(pari, curves):
    """(ellinit, conductor) of the first curve of each class."""
    first = curves.unique("isogeny_class", keep="first", maintain_order=True)
    return [(pari.ellinit([int(a) for a in ainvs]), conductor)
            for conductor, ainvs in first.select("conductor", "ainvs").iter_rows()]


def point_counts(elliptic, primes):
    return traces_by_point_counts([int(e[9]) for e, _ in elliptic],
                                  [int(e[10]) for e, _ in elliptic],
                                  [n for _, n in elliptic], primes)


@pytest.mark.parametrize("p", [5, 7, 13, 101])
def test_tables_are_the_character_sums(p):
    chi, inverse = legendre_symbols(p), inverses(p)
    assert all(v * inverse[v] % p == 1 for v in range(1, p)) and inverse[0] == 0
    assert sorted(chi.tolist()) == [-1] * ((p - 1) // 2) + [0] + [1] * ((p - 1) // 2)
    twisted, j_zero, j_1728 = family_tables(p, chi, inverse)
    for v in range(p):
        assert twisted[v] == direct_traces(chi, v, v)
        assert j_zero[v] == direct_traces(chi, 0, v) and j_1728[v] == direct_traces(chi, v, 0)


def test_correlations_are_exact_integers():
    rng = np.random.default_rng(5)
    for p in (5, 11, 997, 3851):
        weights = rng.integers(-3, 4, (2, p)).astype(float)
        chi = legendre_symbols(p)
        shifted = np.array([np.roll(chi, -t) for t in range(p)]) if p < 1000 else None
        got = cyclic_correlations(weights, chi)
        assert got.dtype == np.int64 and got.shape == (2, p)
        if shifted is not None:                                   # r[t] = Σ_u w[u] χ(u + t)
            assert (got == (shifted @ weights.T).T).all()
        t = rng.integers(p)
        assert got[1, t] == int(weights[1] @ chi[(np.arange(p) + t) % p])


def test_residues_of_large_integers_are_exact():
    values = [0, 1, -1, 2**31 - 1, 2**31, -(2**62), 3**100, -(7**90) + 12345, 10**40 + 7]
    signs, digits = limbs(values)
    for p in (5, 3851, 2**31 - 1):
        assert residues(signs, digits, p).tolist() == [v % p for v in values]


def test_every_class_below_2000_matches_ellan(pari):
    """Every a_p (5 <= p < 500, p ∤ N) of every class with N < 2000 equals ellan's; at p | N
    the sum is the singular reduction's trace, PARI's ellap (Cremona's models are minimal)."""
    elliptic = first_curves(pari, read_curves(1, 2000))
    primes = [p for p in primes_up_to(500) if p >= 5]
    traces = point_counts(elliptic, primes)
    for row, (curve, conductor) in enumerate(elliptic):
        an = small_integers(pari, pari.ellan(curve, primes[-1]))
        for column, p in enumerate(primes):
            expected = an[p - 1] if conductor % p else int(pari.ellap(curve, p))
            assert traces[row, column] == expected, (conductor, p)


def test_every_a_n_below_2000_matches_ellan(pari):
    """The classes' a_1..a_300 from their aplists (point counts at p >= 5, PARI at 2, 3 and at
    the bad primes) through dirichlet_coefficients equal ellan's, for every class with N < 2000
    and the named curves."""
    curves = read_curves(1, 2000)
    elliptic = first_curves(pari, curves) + first_curves(pari, classes_of(*NAMED))
    classes = [class_pari_data(pari, curve, conductor) for curve, conductor in elliptic]
    primes = primes_up_to(300)
    aplists = class_aplists(classes, primes)
    coefficients = dirichlet_coefficients(dict(zip(primes, aplists.T)),
                                          np.array([n for _, n in elliptic]), 300)
    expected = [small_integers(pari, pari.ellan(curve, 300)) for curve, _ in elliptic]
    assert coefficients[:, 1:].astype(np.int64).tolist() == expected


def test_named_curves_and_large_coefficients(pari):
    """The named curves and 491694g3 (c4 of 58 bits, c6 of 87: three limbs), to p < 4000."""
    large = read_curves(491_694, 491_695).filter(pl.col("label") == "491694g3")
    elliptic = first_curves(pari, classes_of(*NAMED)) + first_curves(pari, large)
    assert abs(int(elliptic[-1][0][10])).bit_length() == 87
    primes = [p for p in primes_up_to(4000) if p >= 5]
    traces = point_counts(elliptic, primes)
    for row, (curve, conductor) in enumerate(elliptic):
        for column, p in enumerate(primes):
            assert traces[row, column] == int(pari.ellap(curve, p)), (conductor, p)


def test_a_model_singular_at_a_good_prime_is_refused(pari):
    """11a1 scaled by u = 5 (c4 5⁴, c6 5⁶ times): singular at 5, which does not divide 11."""
    curve = pari.ellinit([0, -1, 1, -10, -20])
    c4, c6 = int(curve[9]), int(curve[10])
    assert traces_by_point_counts([c4], [c6], [11], [5, 7]).shape == (1, 2)
    with pytest.raises(ValueError, match="p = 5"):
        traces_by_point_counts([c4 * 5**4], [c6 * 5**6], [11], [5, 7])
    with pytest.raises(ValueError, match="p >= 5"):
        traces_by_point_counts([c4], [c6], [11], [3, 5])
