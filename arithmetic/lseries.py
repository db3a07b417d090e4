"""The L-series of E at s = 1 from its traces: the rapidly converging sums that compute L(E,1)
and L'(E,1) (Cremona, *Algorithms for modular elliptic curves*, 2nd ed., §2.11).

With L(E,s) = Σ a_n n^(−s), conductor N and root number w:

    L(E,1)  = (1 + w) Σ_{n≥1} (a_n/n) exp(−2πn/√N),
    L'(E,1) = 2 Σ_{n≥1} (a_n/n) E₁(2πn/√N)            (when w = −1),

E₁ the exponential integral. The a_n are multiplicative, with a_{p^k} = a_p a_{p^(k−1)} −
p a_{p^(k−2)} at good p and a_{p^k} = a_p^k at bad p, where a_p = −w_p at multiplicative p
(Cremona's aplist stores w_p there) and 0 at additive p. Truncated at n ≤ n_max, the terms
left out are of size exp(−2π n_max/√N): negligible for √N ≪ n_max, a rough partial sum beyond.
:func:`terms_needed` chooses n_max from the conductor so that the first omitted term is below a
tolerance, which keeps the sums accurate at every conductor (:func:`class_central_values`).

The weights 2 exp(−2πn/√N)/n and 2 E₁(2πn/√N)/n depend only on N and n, so each conductor's
are computed once (:func:`central_weights`) and every class of that conductor takes its two sums
as one product of its a_n with them: E₁ is the costly part (about 0.2 µs a term in scipy), and
the Cremona tables have about four classes to a conductor (7.6 at N ≈ 490,000).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import exp1

from arithmetic.traces import primes_up_to



def dirichlet_coefficients(aplist: dict[int, np.ndarray], conductor: np.ndarray,
                           n_max: int) -> np.ndarray:
    """a_n for n = 0..n_max (column n; a_0 = 0) of every curve, from ``aplist`` (p -> the
    aplist column: a_p at good p, w_p at bad p) for every prime p ≤ n_max."""
    missing = [p for p in primes_up_to(n_max) if p not in aplist]
    if missing:
        raise ValueError(f"a_n for n <= {n_max} needs a_p for p = {missing}")
    conductor = np.asarray(conductor, dtype=np.int64)
    coefficients = np.zeros((len(conductor), n_max + 1))
    coefficients[:, 1] = 1.0
    for p in primes_up_to(n_max):
        listed = np.asarray(aplist[p], dtype=float)
        bad, additive = conductor % p == 0, conductor % (p * p) == 0
        ap = np.where(additive, 0.0, np.where(bad, -listed, listed))
        power, previous, current = p, np.ones_like(ap), ap
        while power <= n_max:
            coefficients[:, power] = current
            previous, current = current, np.where(bad, ap * current, ap * current - p * previous)
            power *= p
    for n in range(2, n_max + 1):                       # multiplicativity: a_n = a_{p^k} a_m
        p = next(q for q in primes_up_to(n) if n % q == 0)
        prime_power = p
        while n % (prime_power * p) == 0:
            prime_power *= p
        if prime_power != n:
            coefficients[:, n] = coefficients[:, prime_power] * coefficients[:, n // prime_power]
    return coefficients


@functools.lru_cache(maxsize=16)
def central_weights(conductor: int, terms: int) -> np.ndarray:
    """The (terms, 2) array of 2 exp(−2πn/√N)/n and 2 E₁(2πn/√N)/n, row n − 1 for n = 1..terms:
    the sums of :func:`central_sums` are a_1..a_terms times it. Read-only (it is cached: the
    classes of a conductor come one after another in the curve tables)."""
    n = np.arange(1, terms + 1)
    x = 2 * np.pi * n / math.sqrt(conductor)
    weights = np.column_stack([np.exp(-x), exp1(x)]) * (2 / n)[:, None]
    weights.flags.writeable = False
    return weights


def central_sums(coefficients: np.ndarray, conductor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(2 Σ (a_n/n) exp(−2πn/√N), 2 Σ (a_n/n) E₁(2πn/√N)): L(E,1) when w = +1, L'(E,1)
    when w = −1, up to the truncation of the a_n; one matrix product per conductor."""
    conductor = np.asarray(conductor, dtype=np.int64)
    sums = np.empty((len(conductor), 2))
    terms = coefficients.shape[1] - 1
    for level in np.unique(conductor):
        rows = conductor == level
        sums[rows] = coefficients[rows, 1:] @ central_weights(int(level), terms)
    return sums[:, 0], sums[:, 1]


def terms_needed(conductor: int, tolerance: float) -> int:
    """The least n_max whose first omitted factor exp(−2π(n_max+1)/√N) is below ``tolerance``
    (E₁(x) < exp(−x) for x >= 1 bounds the derivative's terms alike): n_max = ⌈√N·log(1/tol)/2π⌉."""
    return max(1, math.ceil(math.sqrt(conductor) * math.log(1 / tolerance) / (2 * math.pi)))


def class_central_values(an: list[int], conductor: int) -> tuple[float, float]:
    """(2 Σ (a_n/n) exp(−2πn/√N), 2 Σ (a_n/n) E₁(2πn/√N)) from a_1..a_{n_max} (PARI's
    ``ellan``, exact Dirichlet coefficients at every n): L(E,1) when w = +1 and L'(E,1) when
    w = −1, accurate when n_max >= :func:`terms_needed`."""
    # int64 first: numpy reads a list of Python ints faster than straight into floats
    value, derivative = np.array(an, dtype=np.int64) @ central_weights(conductor, len(an))
    return float(value), float(derivative)
