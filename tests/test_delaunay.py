"""The Delaunay / Poonen–Rains model of Sha[p^oo] by random alternating matrices."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models.delaunay import ShaModel, alternating_cokernel_exponents, trivial_probability


@pytest.mark.parametrize("p", [2, 3, 5])
def test_rank_zero_trivial_probability_and_symplectic_type(p):
    rng = np.random.default_rng(p)
    n = 20_000
    exponents = alternating_cokernel_exponents(p, 12, n, rng)
    assert np.all(exponents % 2 == 0)                  # #Sha[p^oo] is a square
    expected = trivial_probability(p, 0)               # prod_{i>=1} (1 - p^(1-2i))
    assert expected == pytest.approx(math.prod(1 - p ** (1 - 2 * i) for i in range(1, 200)))
    assert abs(np.mean(exponents == 0) - expected) < 5 * math.sqrt(expected * (1 - expected) / n)


def test_small_cokernels_by_hand():
    rng = np.random.default_rng(0)
    # 2x2 alternating [[0, a], [-a, 0]]: cokernel Z_p/a + Z_p/a, exponent 2 v_p(a)
    exponents = alternating_cokernel_exponents(3, 2, 30_000, rng)
    assert np.mean(exponents == 0) == pytest.approx(2 / 3, abs=0.015)
    assert np.mean(exponents == 2) == pytest.approx(2 / 9, abs=0.015)


@pytest.mark.parametrize("rank", [1, 2])
def test_higher_rank_reweighting(rank):
    rng = np.random.default_rng(10 + rank)
    model = ShaModel([3], bank_size=20_000, matrix_size=12, rng=rng)
    sha = model.sample(np.full(50_000, rank), rng)
    expected = trivial_probability(3, rank)            # prod_{i>r} (1 - 3^(1-2i))
    assert np.mean(sha == 1) == pytest.approx(expected, abs=0.01)
    roots = np.sqrt(sha).round().astype(int)
    assert np.all(roots ** 2 == sha)


def test_odd_matrix_size_is_refused():
    with pytest.raises(ValueError, match="even"):
        ShaModel([2], 100, 5, np.random.default_rng(0))
