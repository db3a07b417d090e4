"""Invariants and heights of a Weierstrass equation y² + a1xy + a3y = x³ + a2x² + a4x + a6.

b2 = a1² + 4a2, b4 = 2a4 + a1a3, b6 = a3² + 4a6, c4 = b2² − 24b4, c6 = −b2³ + 36b2b4 − 216b6
(Silverman, *Arithmetic of Elliptic Curves*, III.1). The curve is isomorphic over Q to the short
model y² = x³ + Ax + B with A = −27c4, B = −54c6, whose naive height
H = max(4|A|³, 27B²) is the height by which curves are ordered in Balakrishnan, Ho, Kaplan,
Spicer, Stein and Weigandt, *Databases of elliptic curves ordered by height* (2016).
All arithmetic is on Python integers (exact); logarithms of huge integers use ``math.log``.
"""
from __future__ import annotations

import math
from fractions import Fraction


def c_invariants(ainvs: list[int]) -> tuple[int, int]:
    """(c4, c6) of the equation with coefficients ``[a1, a2, a3, a4, a6]``."""
    a1, a2, a3, a4, a6 = ainvs
    b2, b4, b6 = a1 * a1 + 4 * a2, 2 * a4 + a1 * a3, a3 * a3 + 4 * a6
    return b2 * b2 - 24 * b4, -b2 ** 3 + 36 * b2 * b4 - 216 * b6


def signed_log(n: int | Fraction) -> float:
    """sign(n) · log(1 + |n|): a log scale that keeps the sign and sends 0 to 0."""
    if n == 0:
        return 0.0
    magnitude = abs(n)
    value = math.log1p(float(magnitude)) if magnitude < 2**53 else math.log(magnitude)
    return math.copysign(value, n)


def log_naive_height(c4: int, c6: int) -> float:
    """log H(E) = log max(4|A|³, 27B²) for the short model A = −27c4, B = −54c6."""
    return math.log(max(4 * abs(27 * c4) ** 3, 27 * (54 * c6) ** 2))


def log_j_height(j: Fraction) -> float:
    """Logarithmic Weil height of j = n/d in lowest terms: log max(|n|, |d|)."""
    return math.log(max(abs(j.numerator), j.denominator))


#: The columns of :func:`weierstrass_features`.
WEIERSTRASS_COLUMNS = ["a1", "a2", "a3", "a4", "a6", "slog_c4", "slog_c6", "slog_discriminant",
                       "log_naive_height", "log_j_height"]


def weierstrass_features(ainvs: list[int]) -> list[float]:
    """a1..a6 (as floats, the raw coefficients of the minimal model), signed logs of c4, c6 and the
    discriminant Δ = (c4³ − c6²)/1728, log H(E), and h(j) with j = c4³/Δ."""
    c4, c6 = c_invariants(ainvs)
    discriminant = (c4 ** 3 - c6 ** 2) // 1728
    j = Fraction(c4 ** 3, discriminant)
    return [*(float(a) for a in ainvs), signed_log(c4), signed_log(c6), signed_log(discriminant),
            log_naive_height(c4, c6), log_j_height(j)]
