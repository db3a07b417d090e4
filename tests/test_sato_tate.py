"""The Sato–Tate law on integer traces: moments, Hasse's bound, torsion congruences."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models.sato_tate import (hasse_bound, sample_traces, semicircle_cdf, torsion_modulus,
                              trace_distribution)


def test_semicircle_cdf():
    assert semicircle_cdf(np.array([-1.0, 0.0, 1.0, 2.0])).tolist() == pytest.approx([0, 0.5, 1, 1])


@pytest.mark.parametrize("p", [10007, 99991])
def test_moments_of_the_discretized_law(p):
    support = np.arange(-hasse_bound(p), hasse_bound(p) + 1)
    x = support / (2 * math.sqrt(p))
    weights = trace_distribution(p)
    assert weights @ x == pytest.approx(0, abs=1e-12)
    assert weights @ x ** 2 == pytest.approx(1 / 4, abs=2e-3)
    assert weights @ x ** 4 == pytest.approx(1 / 8, abs=2e-3)


def test_sampled_moments_within_sampling_tolerance():
    rng = np.random.default_rng(5)
    p, n = 1009, 200_000
    x = sample_traces(p, np.ones(n, dtype=np.int64), rng) / (2 * math.sqrt(p))
    # standard errors: sd(x^2) = sqrt(1/8 - 1/16) ~ 0.25, sd(x^4) = sqrt(E x^8 - 1/64) ~ 0.14
    assert abs(np.mean(x ** 2) - 1 / 4) < 5 * 0.25 / math.sqrt(n) + 2e-3
    assert abs(np.mean(x ** 4) - 1 / 8) < 5 * 0.14 / math.sqrt(n) + 2e-3
    assert np.abs(x).max() <= 1


def test_torsion_congruence_and_parity():
    rng = np.random.default_rng(6)
    p = 101
    moduli = np.array([1, 2, 5, 4, 16] * 2000)
    traces = sample_traces(p, moduli, rng)
    assert np.all((p + 1 - traces) % moduli == 0)
    assert np.all(np.abs(traces) <= 2 * math.sqrt(p))
    assert set(np.unique(traces[moduli == 1]) % 2) == {0, 1}


def test_torsion_modulus_at_two_keeps_the_odd_part():
    assert torsion_modulus(np.array([1, 2, 4, 6, 12, 5]), 2).tolist() == [1, 1, 1, 3, 3, 5]
    assert torsion_modulus(np.array([4, 6]), 3).tolist() == [4, 6]


def test_impossible_congruence_is_an_error():
    with pytest.raises(ValueError, match="p = 2"):
        trace_distribution(2, 7)       # #E(F_2) <= 5
