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

The features stage builds the a_n of many classes at once from their aplists
(:func:`dirichlet_coefficients`: the prime powers by the recursion, then each n that is not a
prime power as a product over coprime factors, :func:`multiplicative_steps`) and sums each class
to its own number of terms (:func:`truncated_central_values`).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import exp1

from arithmetic.primes import primes_up_to


@functools.lru_cache(maxsize=4)
def multiplicative_steps(n_max: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """The n ≤ n_max that are not prime powers, as (n, q, n/q) with q the exact power of n's
    least prime factor dividing n (so a_n = a_q a_{n/q}, q and n/q coprime), grouped by the
    number ω(n) of distinct prime factors, ω = 2, 3, ...: a step's n/q has ω(n) − 1 prime
    factors, so it is a prime power or an n of an earlier step. Read-only (cached)."""
    least = np.zeros(n_max + 1, dtype=np.int64)         # least prime factor (sieve)
    for p in primes_up_to(math.isqrt(n_max)):
        multiples = least[p * p::p]
        multiples[multiples == 0] = p
    least[least == 0] = np.arange(n_max + 1)[least == 0]
    part = np.ones(n_max + 1, dtype=np.int64)          # the power of the least prime in n
    omega = np.zeros(n_max + 1, dtype=np.int64)
    for n in range(2, n_max + 1):
        rest = n // least[n]
        same = least[rest] == least[n] and rest > 1
        part[n] = least[n] * part[rest] if same else least[n]
        omega[n] = omega[rest] if same else omega[rest] + 1
    steps = []
    for count in range(2, int(omega.max(initial=0)) + 1):
        n = np.flatnonzero(omega == count)
        step = (n, part[n], n // part[n])
        for array in step:
            array.flags.writeable = False
        steps.append(step)
    return tuple(steps)


def dirichlet_coefficients(aplist: dict[int, np.ndarray], conductor: np.ndarray,
                           n_max: int) -> np.ndarray:
    """a_n for n = 0..n_max (column n; a_0 = 0) of every curve, from ``aplist`` (p -> the
    aplist column: a_p at good p, w_p at bad p) for every prime p ≤ n_max."""
    primes = primes_up_to(n_max)
    missing = [p for p in primes if p not in aplist]
    if missing:
        raise ValueError(f"a_n for n <= {n_max} needs a_p for p = {missing}")
    conductor = np.asarray(conductor, dtype=np.int64)
    coefficients = np.zeros((len(conductor), n_max + 1))
    coefficients[:, 1] = 1.0
    for p in primes:
        ap = np.asarray(aplist[p], dtype=float)
        bad = conductor % p == 0
        if bad.any():
            ap = np.where(conductor % (p * p) == 0, 0.0, np.where(bad, -ap, ap))
        coefficients[:, p] = ap
        power, previous, current = p * p, np.ones_like(ap), ap
        while power <= n_max:
            previous, current = current, np.where(bad, ap * current, ap * current - p * previous)
            coefficients[:, power] = current
            power *= p
    for n, prime_power, cofactor in multiplicative_steps(n_max):   # a_n = a_{p^k} a_m
        coefficients[:, n] = coefficients[:, prime_power] * coefficients[:, cofactor]
    return coefficients


@functools.lru_cache(maxsize=16)
def central_weights(conductor: int, terms: int) -> np.ndarray:
    """The (terms, 2) array of 2 exp(−2πn/√N)/n and 2 E₁(2πn/√N)/n, row n − 1 for n = 1..terms:
    the sums of :func:`class_central_values` are a_1..a_terms times it. Read-only (it is cached: the
    classes of a conductor come one after another in the curve tables)."""
    n = np.arange(1, terms + 1)
    x = 2 * np.pi * n / math.sqrt(conductor)
    weights = np.column_stack([np.exp(-x), exp1(x)]) * (2 / n)[:, None]
    weights.flags.writeable = False
    return weights


def terms_needed(conductor: int, tolerance: float) -> int:
    """The least n_max whose first omitted factor exp(−2π(n_max+1)/√N) is below ``tolerance``
    (E₁(x) < exp(−x) for x >= 1 bounds the derivative's terms alike): n_max = ⌈√N·log(1/tol)/2π⌉."""
    return max(1, math.ceil(math.sqrt(conductor) * math.log(1 / tolerance) / (2 * math.pi)))


def sum_terms(conductor: int, tolerance: float, terms_max: int) -> int:
    """The terms the sums take: :func:`terms_needed`, at most ``terms_max`` (beyond, a partial
    sum)."""
    return min(terms_needed(conductor, tolerance), terms_max)


def class_central_values(an, conductor: int) -> tuple[float, float]:
    """(2 Σ (a_n/n) exp(−2πn/√N), 2 Σ (a_n/n) E₁(2πn/√N)) from a_1..a_{n_max} (PARI's
    ``ellan``, or a row of :func:`dirichlet_coefficients`: exact Dirichlet coefficients at
    every n): L(E,1) when w = +1 and L'(E,1) when w = −1, accurate when n_max >=
    :func:`terms_needed`.

    A sum within its rounding error of 0 is 0 (:func:`vanishing_within_rounding`): L(E,1) at
    rank ≥ 2 and L'(E,1) at rank ≥ 3 vanish, and their floating-point value is noise that
    depends on the order of the additions, not on the curve."""
    # a list of Python ints is read as int64, faster than straight into floats
    an = np.asarray(an)
    weights = central_weights(conductor, len(an))
    sums = an @ weights
    # the weights are positive, so this is Σ |a_n · weight_n| for each sum
    sums[vanishing_within_rounding(sums, np.abs(an) @ weights, len(an))] = 0.0
    return float(sums[0]), float(sums[1])


def vanishing_within_rounding(sums: np.ndarray, magnitudes: np.ndarray, terms: int) -> np.ndarray:
    """Where |Σ x_n| is at most the bound on the rounding error of a floating-point sum of
    ``terms`` products x_n = a_n·weight_n, (terms + 4)·ε·Σ|x_n|: the recursive summation's
    γ_terms·Σ|x_n| (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §4.2)
    and a few units in the last place for each weight's own rounding (exp, E₁). Such a sum is
    0 to the precision of the computation, in whatever order it is added. At 3,856 terms the
    bound is about 1e-12 of Σ|x_n|, while the smallest non-zero sum of the default run (N < 10,000)
    is 6e-4, and its smallest L(E,1) ≠ 0 and L'(E,1) ≠ 0 are 0.048 and 0.31."""
    return np.abs(sums) <= (terms + 4) * np.finfo(float).eps * magnitudes


def truncated_central_values(coefficients: np.ndarray, conductor: np.ndarray,
                             terms: np.ndarray) -> np.ndarray:
    """The (curves, 2) array of :func:`class_central_values` of each row of ``coefficients``
    (:func:`dirichlet_coefficients`, column n holding a_n) cut to a_1..a_{terms[i]}: row by
    row, so the same values to the last bit (one product of many rows at once sums in another
    order and differs by about 1e-16, relative); about 5 µs a row."""
    return np.array([class_central_values(coefficients[row, 1:count + 1], level)
                     for row, (level, count) in enumerate(zip(np.asarray(conductor).tolist(),
                                                              np.asarray(terms).tolist()))],
                    dtype=float).reshape(-1, 2)
