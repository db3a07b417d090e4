"""The Delaunay / Poonen–Rains model of Sha[p^∞] of an elliptic curve of rank r.

Bhargava, Kane, Lenstra, Poonen and Rains, *Modeling the distribution of ranks, Selmer groups,
and Shafarevich–Tate groups of elliptic curves* (2015), Theorem 1.10 and §5: Sha[p^∞] of a curve
of rank r is distributed like the cokernel of a random alternating matrix over Z_p, which gives
Delaunay's (2001) heuristic

    P_r(Sha[p^∞] ≅ G) = #G^(1−r) / #Sp(G) · ∏_{i > r} (1 − p^(1−2i))

for G of symplectic type (G ≅ H × H). In particular P_r(Sha[p] = 0) = ∏_{i > r} (1 − p^(1−2i)).
We sample it without the group-theoretic formula: the cokernel of a Haar-random alternating
n × n matrix over Z_p (n even) has, as n → ∞, the law P_0 (the finite-n law differs by factors
1 − p^(1−2i) with i > n/2); and P_r(G) ∝ P_0(G) · #G^(−r), so a bank of draws from P_0 is
reweighted for each rank. Matrices are taken modulo p^K with p^K <= 2^30, so a cokernel whose
exponent reaches K (probability below p^−K) is recorded with exponent K.
"""
from __future__ import annotations

import math
import numpy as np


def _valuations(x: np.ndarray, p: int, precision: int) -> np.ndarray:
    """v_p of residues mod p^precision (0 has valuation ``precision``): gcd(x, p^K) = p^v."""
    powers = np.gcd(x, p ** precision)
    return np.rint(np.log(powers) / math.log(p)).astype(np.int64)


def _inverse(u: np.ndarray, p: int, precision: int) -> np.ndarray:
    """u^(−1) mod p^precision for units u, by Euler: u^(φ(p^K) − 1)."""
    modulus = p ** precision
    exponent = p ** (precision - 1) * (p - 1) - 1
    result, base = np.ones_like(u), u % modulus
    while exponent:
        if exponent & 1:
            result = result * base % modulus
        base = base * base % modulus
        exponent >>= 1
    return result


def alternating_cokernel_exponents(p: int, size: int, count: int,
                                   rng: np.random.Generator) -> np.ndarray:
    """log_p #coker(A) for ``count`` Haar-random alternating ``size`` × ``size`` matrices A over
    Z_p, by Smith normal form over Z/p^K (elimination on a pivot of least valuation)."""
    precision = max(1, int(30 / math.log2(p)))
    modulus = p ** precision
    upper = np.triu(rng.integers(0, modulus, size=(count, size, size)), 1)
    matrix = (upper - upper.transpose(0, 2, 1)) % modulus
    batch = np.arange(count)
    exponents = np.zeros(count, dtype=np.int64)
    for _ in range(size):
        valuations = _valuations(matrix, p, precision)
        flat = valuations.reshape(count, -1).argmin(axis=1)
        row, column = np.divmod(flat, matrix.shape[2])
        least = valuations[batch, row, column]
        exponents += least
        # move the pivot to (0, 0)
        rows = np.tile(np.arange(matrix.shape[1]), (count, 1))
        rows[batch, 0], rows[batch, row] = row, 0
        columns = np.tile(np.arange(matrix.shape[2]), (count, 1))
        columns[batch, 0], columns[batch, column] = column, 0
        matrix = np.take_along_axis(matrix, rows[:, :, None], axis=1)
        matrix = np.take_along_axis(matrix, columns[:, None, :], axis=2)
        # clear the pivot's column; its row is then cleared by column operations that change
        # nothing else, so the pivot's row and column are dropped
        scale = p ** np.minimum(least, precision - 1)
        unit_inverse = _inverse(matrix[:, 0, 0] // scale, p, precision)
        factors = (matrix[:, 1:, 0] // scale[:, None]) * unit_inverse[:, None] % modulus
        rest = (matrix[:, 1:, 1:] - factors[:, :, None] * matrix[:, None, 0, 1:]) % modulus
        full = least >= precision
        matrix = np.where(full[:, None, None], matrix[:, 1:, 1:], rest)
    return exponents


class ShaModel:
    """Banks of draws of log_p #Sha[p^∞] under P_0, one per prime, built once and reweighted
    for each rank: ``sample(ranks, rng)`` gives #Sha (the product over the primes) per curve."""

    def __init__(self, primes: list[int], bank_size: int, matrix_size: int,
                 rng: np.random.Generator):
        if matrix_size % 2:
            raise ValueError(f"matrix_size must be even (a cokernel of rank 0), got {matrix_size}")
        self.banks = {p: alternating_cokernel_exponents(p, matrix_size, bank_size, rng)
                      for p in primes}

    def sample(self, ranks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sha = np.ones(len(ranks), dtype=np.int64)
        for p, exponents in self.banks.items():
            orders = p ** np.minimum(exponents, int(62 / math.log2(p)))
            for rank in np.unique(ranks):
                where = np.flatnonzero(ranks == rank)
                weights = np.power(float(p), -float(rank) * exponents)
                sha[where] *= rng.choice(orders, size=len(where), p=weights / weights.sum())
        return sha


def trivial_probability(p: int, rank: int, terms: int = 60) -> float:
    """Delaunay's P_r(Sha[p] = 0) = ∏_{i > r} (1 − p^(1−2i))."""
    return math.prod(1 - p ** (1 - 2 * i) for i in range(rank + 1, rank + 1 + terms))
