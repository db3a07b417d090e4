r"""Frobenius traces a_p of many elliptic curves at once, from character sums tabulated per prime.

**The short model.** For E/Q with invariants c4, c6 (Silverman, *The Arithmetic of Elliptic
Curves*, III.1) and a prime p ≥ 5, the change of variables x ↦ 36x + 3b2, y ↦ 108(2y + a1x + a3)
(invertible at p, its scalings are powers of 6) takes E to the short model

    y² = x³ + a x + b,    a = −27 c4,  b = −54 c6,            discriminant 6¹² Δ.

So at a prime of good reduction p ≥ 5 of a model minimal at p, the reduction of E is isomorphic
over F_p to y² = x³ + ax + b, and counting its affine points by the Legendre symbol χ = (·/p)
(Silverman, V.1, Exercise 5.10; Ireland–Rosen, *A Classical Introduction to Modern Number
Theory*, 18.1) gives

    a_p = p + 1 − #E(F_p) = −Σ_{x ∈ F_p} χ(x³ + a x + b).

**Three one-parameter families.** The sum depends on (a, b) only through a few tables per prime:

- a, b ≠ 0: with λ = b/a, the substitution x = λX gives x³ + ax + b = λ³(X³ + tX + t) with
  t = a³/b², so a_p(a, b) = χ(λ)³ A[t] = χ(λ) A[t] (E is the quadratic twist by λ of the curve
  y² = x³ + tx + t, the twist of Silverman, X.5.4), where A[t] = −Σ_x χ(x³ + tx + t);
- b = 0 (j = 1728): a_p = C[a] with C[a] = −Σ_x χ(x³ + ax);
- a = 0 (j = 0): a_p = B[b] with B[b] = −Σ_x χ(x³ + b).

**Each table is one correlation.** Grouping the terms by u = x³/(x + 1) (x ≠ −1),

    A[t] = −χ(−1) − Σ_{x ≠ −1} χ(x + 1) χ(x³/(x + 1) + t) = −χ(−1) − Σ_u h_A[u] χ(u + t),

with h_A[u] = Σ_{x³/(x+1) = u} χ(x + 1); likewise B[b] = −Σ_u h_B[u] χ(u + b) with h_B[u] the
number of cube roots of u, and C[a] = −Σ_u h_C[u] χ(u + a) with h_C[u] = Σ_{x² = u} χ(x) (as
χ(x³ + ax) = χ(x) χ(x² + a)). A cyclic correlation r[t] = Σ_u h[u] χ(u + t) of length p is a
product of discrete Fourier transforms (Cooley–Tukey; here numpy's pocketfft), so each prime
costs O(p log p) once, and then O(1) per curve: all curves' a_p at p from three table look-ups.

**Exactness.** The correlations are integers of absolute value at most Σ|h| ≤ p. Computed in
double precision by a transform of length n ≈ 2p, their error is of order ε·log₂n·‖h‖₂‖χ‖₂ ≲
10⁻¹⁶·13·√(3p)·√p ≈ 10⁻¹¹ at p ≈ 4,000 (and still ≲ 10⁻⁸ at p ≈ 10⁶), far below 1/2: rounding
recovers them exactly, and :func:`cyclic_correlations` checks that every value was within
:data:`ROUNDING_LIMIT` of an integer before rounding. The reductions of c4, c6 (arbitrary Python
integers) modulo p are exact: integer limbs of 31 bits, each reduced in int64 (:func:`residues`).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import scipy.fft

#: A correlation farther than this from an integer means the transform lost precision.
ROUNDING_LIMIT = 1e-3
#: Bits per limb of :func:`limbs`: the limbs are non-negative int64 values.
LIMB_BITS = 31


def legendre_symbols(p: int) -> np.ndarray:
    """χ(x) = (x/p) for x = 0..p − 1 (p an odd prime), as int64: 0 at 0, 1 at the squares."""
    x = np.arange(p, dtype=np.int64)
    chi = -np.ones(p, dtype=np.int64)
    chi[x * x % p] = 1
    chi[0] = 0
    return chi


def inverses(p: int) -> np.ndarray:
    """x^(p−2) mod p for x = 0..p − 1: the inverse of x in F_p (Fermat), and 0 at 0."""
    base = np.arange(p, dtype=np.int64)
    power = np.ones(p, dtype=np.int64)
    exponent = p - 2
    while exponent:                     # square and multiply; products stay below p² < 2^62
        if exponent & 1:
            power = power * base % p
        base = base * base % p
        exponent >>= 1
    return power


def cyclic_correlations(weights: np.ndarray, chi: np.ndarray) -> np.ndarray:
    """r[i, t] = Σ_u weights[i, u] χ((u + t) mod p) for each row i, t = 0..p − 1, as exact
    integers (the weights and χ integer-valued).

    By zero-padded real FFTs of a fast length n ≥ 2p: the linear correlation's lags
    −(p − 1)..p − 1 land at distinct indices mod n, and folding lag t − p onto t makes it cyclic.
    Raises ArithmeticError if a value was not within :data:`ROUNDING_LIMIT` of an integer."""
    p = len(chi)
    n = scipy.fft.next_fast_len(2 * p, real=True)
    spectrum = np.conj(scipy.fft.rfft(weights, n)) * scipy.fft.rfft(chi, n)
    linear = scipy.fft.irfft(spectrum, n)
    folded = linear[..., :p] + linear[..., n - p:]      # lag t plus lag t − p (index n − p: 0)
    rounded = np.rint(folded)
    error = float(np.max(np.abs(folded - rounded), initial=0.0))
    if error > ROUNDING_LIMIT:
        raise ArithmeticError(f"correlation at p = {p} off an integer by {error:.2g}")
    return rounded.astype(np.int64)


def family_tables(p: int, chi: np.ndarray, inverse: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, C) at the prime p ≥ 5: A[t] = −Σ_x χ(x³ + tx + t), B[b] = −Σ_x χ(x³ + b),
    C[a] = −Σ_x χ(x³ + ax), for t, b, a = 0..p − 1, from one batch of correlations."""
    x = np.arange(p, dtype=np.int64)
    cubes = x * x % p * x % p
    shifted = x[:-1]                                    # x ≠ −1, so that x + 1 is invertible
    weights = np.stack([
        np.bincount(cubes[shifted] * inverse[shifted + 1] % p, weights=chi[shifted + 1],
                    minlength=p),
        np.bincount(cubes, minlength=p).astype(float),
        np.bincount(x * x % p, weights=chi, minlength=p)])
    correlations = cyclic_correlations(weights, chi)
    return -chi[p - 1] - correlations[0], -correlations[1], -correlations[2]


def limbs(values: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(signs, digits) with values[i] = signs[i] · Σ_k digits[k, i] 2^(31k): int64 arrays, the
    digits one row per limb (as many as the largest value needs), one column per value."""
    magnitudes = [abs(int(v)) for v in values]
    count = max([1, *(-(-m.bit_length() // LIMB_BITS) for m in magnitudes)])
    mask = (1 << LIMB_BITS) - 1
    digits = np.array([[(m >> (LIMB_BITS * k)) & mask for m in magnitudes]
                       for k in range(count)], dtype=np.int64).reshape(count, len(magnitudes))
    signs = np.array([1 if int(v) >= 0 else -1 for v in values], dtype=np.int64)
    return signs, digits


def residues(signs: np.ndarray, digits: np.ndarray, p: int) -> np.ndarray:
    """The values of :func:`limbs` modulo p (p < 2^31), in 0..p − 1, by Horner's rule from the
    top limb: exact in int64, as each step's r·(2^31 mod p) + digit is below p² + 2^31."""
    radix = pow(2, LIMB_BITS, p)
    remainder = digits[-1] % p
    for digit in digits[-2::-1]:
        remainder = (remainder * radix + digit) % p
    return signs * remainder % p


def prime_tables(p: int) -> tuple[np.ndarray, ...]:
    """(χ, inverses, A, B, C) at the prime p ≥ 5 (:func:`legendre_symbols`, :func:`inverses`,
    :func:`family_tables`): they depend on p alone, so a process keeps those of the primes up to
    :data:`KEPT_PRIME_MAX` for its next calls (read-only arrays)."""
    return (_kept_prime_tables if p <= KEPT_PRIME_MAX else _prime_tables)(p)


def _prime_tables(p: int) -> tuple[np.ndarray, ...]:
    chi, inverse = legendre_symbols(p), inverses(p)
    tables = (chi, inverse, *family_tables(p, chi, inverse))
    for table in tables:
        table.flags.writeable = False
    return tables


#: Primes whose tables a process keeps (:func:`prime_tables`): every chunk of curves with
#: N < 500,000 needs the primes below 3,900 (the sums' terms), whose five int64 tables take
#: 40 bytes a residue, about 39 MB in all; below 5,000, 64 MB.
KEPT_PRIME_MAX = 5_000
_kept_prime_tables = functools.lru_cache(maxsize=None)(_prime_tables)


def traces_at_prime(p: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """−Σ_x χ(x³ + ax + b) at the prime p ≥ 5 for each pair (a, b) of residues mod p, from the
    three tables of :func:`family_tables` (the module's docstring)."""
    chi, inverse, twisted, j_zero, j_1728 = prime_tables(p)
    t = a * a % p * a % p * (inverse[b] * inverse[b] % p) % p
    twist = chi[b * inverse[a] % p]
    return np.where(a == 0, j_zero[b], np.where(b == 0, j_1728[a], twist * twisted[t]))


def traces_by_point_counts(c4: Sequence[int], c6: Sequence[int], conductors: Sequence[int],
                           primes: Sequence[int]) -> np.ndarray:
    """The (curves, primes) int32 array of −Σ_x χ(x³ − 27c4·x − 54c6) mod p: a_p = p + 1 −
    #E(F_p) at every prime p ≥ 5 of ``primes`` not dividing the curve's conductor, each prime's
    tables computed once for all the curves (the module's docstring).

    ``c4``, ``c6``: integers of a model of each curve that is minimal at its primes of good
    reduction (Cremona's and the LMFDB's global minimal models are); a model whose short form
    is singular at a prime not dividing its conductor raises ValueError. At p | N the entry is
    the same sum for the singular reduction of the model (for a model minimal at p: 1, −1, 0 at
    split, non-split multiplicative, additive p), not Cremona's aplist entry w_p."""
    if any(p < 5 for p in primes):
        raise ValueError(f"point counts by the short model need p >= 5, not {min(primes)}")
    conductors = np.asarray(conductors, dtype=np.int64)
    signs4, digits4 = limbs(c4)
    signs6, digits6 = limbs(c6)
    traces = np.zeros((len(conductors), len(primes)), dtype=np.int32)
    for column, p in enumerate(primes):
        a = -27 * residues(signs4, digits4, p) % p
        b = -54 * residues(signs6, digits6, p) % p
        singular = (4 * (a * a % p * a % p) + 27 * (b * b % p)) % p == 0
        wrong = np.flatnonzero(singular & (conductors % p != 0))
        if len(wrong):
            raise ValueError(f"curve {int(wrong[0])} (N = {int(conductors[wrong[0]])}) has "
                             f"singular reduction at p = {p}: its model is not minimal there")
        traces[:, column] = traces_at_prime(p, a, b)
    return traces
