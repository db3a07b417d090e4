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
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from arithmetic.local_data import LOCAL_DATA_SCHEMA, kodaira_counts, local_reduction

if TYPE_CHECKING:    # importing cypari2 needs the main thread; ap_column must not
    import cypari2


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


def aplist(pari: cypari2.Pari, curve, conductor: int, primes: list[int],
           coefficients=None) -> list[int]:
    """a_p at the good primes of ``primes`` and w_p at the bad ones (Cremona's ``aplist``);
    ``coefficients``: PARI's ``ellan`` of the curve to at least max(primes), if at hand."""
    if coefficients is None:
        coefficients = pari.ellan(curve, primes[-1]) if primes else []
    return [int(coefficients[p - 1]) if conductor % p else int(pari.ellrootno(curve, p))
            for p in primes]


def small_integers(pari: cypari2.Pari, vector) -> list[int]:
    """The entries of a PARI vector of machine-size integers (e.g. ``ellan``'s, |a_n| <= d(n)√n,
    Hasse-Deligne) as Python ints, through one ``Vecsmall``: 4x faster than ``int`` on each
    entry at 20,000 entries."""
    return pari.Vecsmall(vector).list()


def conductor_factorization(pari: cypari2.Pari, conductor: int) -> tuple[list[int], list[int]]:
    """(primes dividing N, their exponents f_p): f_p = 1 multiplicative, f_p >= 2 additive."""
    factors = pari.factor(conductor)
    return [int(p) for p in factors[0]], [int(e) for e in factors[1]]


#: Columns :func:`class_arithmetic` adds to each curve row, besides ``ap_<p>``: the conductor's
#: factorization, the reduction types (a_p = +1 at split and −1 at non-split multiplicative p),
#: the bad primes whose local root number w_p is −1, and the central L-series sums
#: (:func:`arithmetic.lseries.class_central_values`) with the number of terms they took.
CONDUCTOR_COLUMNS = {"bad_primes": pl.Int16, "additive_primes": pl.Int16,
                     "largest_prime": pl.Int64}
CLASS_COLUMNS = {**CONDUCTOR_COLUMNS, "split_primes": pl.Int16, "nonsplit_primes": pl.Int16,
                 "local_root_number_minus": pl.Int16, "l_series_0": pl.Float64,
                 "l_series_1": pl.Float64, "l_series_terms": pl.Int32}


def ap_column(p: int) -> str:
    return f"ap_{p}"


def class_arithmetic(pari: cypari2.Pari, curves: pl.DataFrame, primes: list[int],
                     l_series_tolerance: float, l_series_terms_max: int) -> pl.DataFrame:
    """Per curve (rows of ``data/curves.parquet``, whole classes, each contiguous): its class's
    :data:`CLASS_COLUMNS` and ``ap_<p>`` for every p in ``primes`` (aplist convention), and its
    own Kodaira symbol counts (:data:`arithmetic.local_data.LOCAL_DATA_SCHEMA`), which vary
    within the class.

    The class's PARI work is done once, on its first curve. The central L-series sums take
    :func:`arithmetic.lseries.terms_needed` terms for ``l_series_tolerance``, at most
    ``l_series_terms_max`` (beyond, a partial sum: ``l_series_terms`` says how many).
    """
    # imported here: arithmetic.lseries imports this module's primes_up_to
    from arithmetic.lseries import class_central_values, terms_needed

    rows, current, values, bad = [], None, None, []
    for iso, conductor, ainvs in curves.select("isogeny_class", "conductor", "ainvs").iter_rows():
        curve = pari.ellinit([int(a) for a in ainvs])
        if iso != current:
            current = iso
            bad, exponents = conductor_factorization(pari, conductor)
            terms = min(terms_needed(conductor, l_series_tolerance), l_series_terms_max)
            an = pari.ellan(curve, max(terms, primes[-1] if primes else 1))
            multiplicative = [int(pari.ellap(curve, p)) for p, e in zip(bad, exponents) if e == 1]
            local_minus = sum(int(pari.ellrootno(curve, p)) == -1 for p in bad)
            values = [len(bad), sum(e >= 2 for e in exponents), max(bad, default=1),
                      multiplicative.count(1), multiplicative.count(-1), local_minus,
                      *class_central_values(small_integers(pari, an)[:terms], conductor), terms,
                      *aplist(pari, curve, conductor, primes, an)]
        rows.append([*values, *kodaira_counts(local_reduction(pari, curve, bad)).values()])
    schema = {**CLASS_COLUMNS, **{ap_column(p): pl.Int16 for p in primes}, **LOCAL_DATA_SCHEMA}
    computed = pl.DataFrame(rows, schema=schema, orient="row")
    return pl.concat([curves.select("label"), computed], how="horizontal")
