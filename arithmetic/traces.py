"""Frobenius traces and the conductor's factorization, with PARI, once per isogeny class.

Isogenous curves have the same L-function, hence the same a_p at every prime, the same
conductor and the same local root numbers (these depend only on the Galois representation
V_ℓ(E), an isogeny invariant; Silverman, *Arithmetic of Elliptic Curves*, III.7 and C.16).

Conventions are those of Cremona's ``aplist`` files (*Algorithms for Modular Elliptic Curves*,
1997, Table 3): at a good prime p the trace a_p = p + 1 − #E(F_p); at a bad prime the
Atkin–Lehner eigenvalue w_p, which is the local root number (for multiplicative reduction
w_p = −a_p; for additive reduction a_p = 0 and w_p = ±1 carries the information).
"""
from __future__ import annotations

import math

import cypari2
import numpy as np
import polars as pl


def primes_up_to(bound: int) -> list[int]:
    """The primes p <= bound (sieve of Eratosthenes)."""
    if bound < 2:
        return []
    sieve = np.ones(bound + 1, dtype=bool)
    sieve[:2] = False
    for n in range(2, math.isqrt(bound) + 1):
        if sieve[n]:
            sieve[n * n::n] = False
    return [int(p) for p in np.flatnonzero(sieve)]


def aplist(pari: cypari2.Pari, curve, conductor: int, primes: list[int]) -> list[int]:
    """a_p at the good primes of ``primes`` and w_p at the bad ones (Cremona's ``aplist``)."""
    coefficients = pari.ellan(curve, primes[-1]) if primes else []
    return [int(coefficients[p - 1]) if conductor % p else int(pari.ellrootno(curve, p))
            for p in primes]


def conductor_factorization(pari: cypari2.Pari, conductor: int) -> tuple[list[int], list[int]]:
    """(primes dividing N, their exponents f_p): f_p = 1 multiplicative, f_p >= 2 additive."""
    factors = pari.factor(conductor)
    return [int(p) for p in factors[0]], [int(e) for e in factors[1]]


#: Columns :func:`class_arithmetic` adds to each curve row, besides ``ap_<p>``.
CONDUCTOR_COLUMNS = {"bad_primes": pl.Int16, "additive_primes": pl.Int16,
                     "largest_prime": pl.Int64}


def ap_column(p: int) -> str:
    return f"ap_{p}"


def class_arithmetic(pari: cypari2.Pari, curves: pl.DataFrame, primes: list[int]) -> pl.DataFrame:
    """Per curve (rows of ``data/curves.parquet``, whole classes, each contiguous): its class's
    conductor factorization counts and ``ap_<p>`` for every p in ``primes`` (aplist convention).

    The PARI work is done once per class, on the class's first curve.
    """
    rows, current, values = [], None, None
    for iso, conductor, ainvs in curves.select("isogeny_class", "conductor", "ainvs").iter_rows():
        if iso != current:
            current = iso
            curve = pari.ellinit([int(a) for a in ainvs])
            bad, exponents = conductor_factorization(pari, conductor)
            values = [len(bad), sum(e >= 2 for e in exponents), max(bad, default=1),
                      *aplist(pari, curve, conductor, primes)]
        rows.append(values)
    schema = {**CONDUCTOR_COLUMNS, **{ap_column(p): pl.Int16 for p in primes}}
    computed = pl.DataFrame(rows, schema=schema, orient="row")
    return pl.concat([curves.select("label"), computed], how="horizontal")
