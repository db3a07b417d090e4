"""The Sato–Tate law for Frobenius traces of a non-CM elliptic curve over Q.

Write a_p = 2√p cos θ_p. For E without CM, θ_p is equidistributed for the measure
(2/π) sin²θ dθ on [0, π] (Barnet-Lamb, Geraghty, Harris, Taylor 2011), so x = a_p/(2√p) has the
semicircle density (2/π)√(1 − x²) on [−1, 1]: E[x] = 0, E[x²] = 1/4, E[x⁴] = 1/8.
Integer traces satisfy Hasse's bound |a_p| <= 2√p, and rational torsion forces a congruence:
for good p the prime-to-p part of E(Q)_tors injects into E(F_p), and for p > 2 all of it does
(the formal group has no torsion; Silverman, *Arithmetic of Elliptic Curves*, VII.3.1), so
#T divides #E(F_p) = p + 1 − a_p.
"""
from __future__ import annotations

import math

import numpy as np


def hasse_bound(p: int) -> int:
    """floor(2√p), the largest |a_p| allowed by Hasse's theorem."""
    return math.isqrt(4 * p)


def semicircle_cdf(x: np.ndarray) -> np.ndarray:
    """P(X <= x) for the semicircle density (2/π)√(1 − x²) on [−1, 1]."""
    x = np.clip(x, -1.0, 1.0)
    return 0.5 + (x * np.sqrt(1 - x * x) + np.arcsin(x)) / np.pi


def torsion_modulus(torsion: np.ndarray, p: int) -> np.ndarray:
    """The part of #T that must divide #E(F_p) at a good prime p: all of it for p > 2, its odd
    part for p = 2."""
    torsion = np.asarray(torsion, dtype=np.int64)
    if p > 2:
        return torsion
    while np.any(torsion % 2 == 0):
        torsion = np.where(torsion % 2 == 0, torsion // 2, torsion)
    return torsion


def trace_distribution(p: int, modulus: int = 1) -> np.ndarray:
    """Probabilities of a_p = −h, ..., h (h = floor(2√p)): the Sato–Tate mass of each integer's
    bin [a − 1/2, a + 1/2]/(2√p), restricted to p + 1 − a ≡ 0 (mod ``modulus``), normalized."""
    h = hasse_bound(p)
    support = np.arange(-h, h + 1)
    scale = 2 * math.sqrt(p)
    weights = semicircle_cdf((support + 0.5) / scale) - semicircle_cdf((support - 0.5) / scale)
    weights = np.where((p + 1 - support) % modulus == 0, weights, 0.0)
    if weights.sum() == 0:
        raise ValueError(f"no trace at p = {p} is compatible with torsion modulus {modulus}")
    return weights / weights.sum()


def sample_traces(p: int, moduli: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Sato–Tate trace at p for each entry of ``moduli`` (the torsion congruence of each)."""
    support = np.arange(-hasse_bound(p), hasse_bound(p) + 1)
    traces = np.empty(len(moduli), dtype=np.int64)
    for modulus in np.unique(moduli):
        where = np.flatnonzero(moduli == modulus)
        traces[where] = rng.choice(support, size=len(where), p=trace_distribution(p, int(modulus)))
    return traces
