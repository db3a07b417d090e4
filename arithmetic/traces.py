"""Frobenius traces and the conductor's factorization, with PARI, once per isogeny class.

Isogenous curves have the same L-function, hence the same a_p at every prime, the same
conductor and the same local root numbers (these depend only on the Galois representation
V_ℓ(E), an isogeny invariant; Silverman, *Arithmetic of Elliptic Curves*, III.7 and C.16).

The a_p at the good primes p >= 5 are counts of points, every class's at once, by character sums
tabulated once per prime (:mod:`arithmetic.point_counts`); PARI gives the rest: the conductor's
factorization, a_2 and a_3, the local root numbers and reduction types, the local data. The
central L-series sums take their a_n from these a_p (:mod:`arithmetic.lseries`).

Conventions are those of Cremona's ``aplist`` files (*Algorithms for Modular Elliptic Curves*,
1997, Table 3): at a good prime p the trace a_p = p + 1 − #E(F_p); at a bad prime the
Atkin–Lehner eigenvalue w_p, which is the local root number (for multiplicative reduction
w_p = −a_p; for additive reduction a_p = 0 and w_p = ±1 carries the information).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from arithmetic.local_data import LOCAL_DATA_SCHEMA, kodaira_counts, local_reduction
from arithmetic.lseries import (class_central_values, dirichlet_coefficients, sum_terms,
                               truncated_central_values)
from arithmetic.point_counts import traces_by_point_counts
from arithmetic.primes import primes_up_to

if TYPE_CHECKING:    # importing cypari2 needs the main thread; ap_column must not
    import cypari2


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
#: The columns of :meth:`ClassData.reduction_counts`.
REDUCTION_COLUMNS = list(CLASS_COLUMNS)[:6]


#: Primes whose good a_p PARI computes (``ellap``): the short model y² = x³ + ax + b of the
#: point counts needs p >= 5.
SMALL_PRIMES = (2, 3)
#: Doubles in one block of a_n (:func:`class_central_sums`): 32 MB, 1,000 classes at
#: N ≈ 490,000 (3,856 terms).
COEFFICIENTS_PER_BLOCK = 4_000_000


def ap_column(p: int) -> str:
    return f"ap_{p}"


@dataclass(frozen=True)
class ClassData:
    """What PARI computes once per isogeny class, on its first curve: the conductor's
    factorization, the local root numbers w_p and the multiplicative a_p at its primes, c4 and
    c6 of the (minimal) model, and a_2, a_3 where good (the point counts take p >= 5)."""
    conductor: int
    bad_primes: list[int]
    exponents: list[int]
    root_numbers: list[int]
    multiplicative_traces: list[int]
    c4: int
    c6: int
    small_traces: dict[int, int]

    def reduction_counts(self) -> list[int]:
        """The first six of :data:`CLASS_COLUMNS`: the bad primes, the additive ones, the
        largest, the split and non-split multiplicative ones, those with w_p = −1."""
        return [len(self.bad_primes), sum(e >= 2 for e in self.exponents),
                max(self.bad_primes, default=1), self.multiplicative_traces.count(1),
                self.multiplicative_traces.count(-1), self.root_numbers.count(-1)]


def class_pari_data(pari: cypari2.Pari, curve, conductor: int) -> ClassData:
    """:class:`ClassData` of the class of ``curve`` (an ``ellinit``, whose entries 9 and 10 are
    c4 and c6), with PARI's ``factor``, ``ellrootno`` and ``ellap``."""
    bad, exponents = conductor_factorization(pari, conductor)
    return ClassData(
        conductor=conductor, bad_primes=bad, exponents=exponents,
        root_numbers=[int(pari.ellrootno(curve, p)) for p in bad],
        multiplicative_traces=[int(pari.ellap(curve, p)) for p, e in zip(bad, exponents)
                               if e == 1],
        c4=int(curve[9]), c6=int(curve[10]),
        small_traces={p: int(pari.ellap(curve, p)) for p in SMALL_PRIMES if conductor % p})


def class_aplists(classes: list[ClassData], primes: list[int]) -> np.ndarray:
    """The (classes, primes) int64 array of Cremona's aplist entries at every p of ``primes``
    (ascending primes): a_p at good p, from :func:`arithmetic.point_counts.traces_by_point_counts`
    for p >= 5 (each prime's tables once for all the classes) and PARI's ``ellap`` for p = 2, 3;
    the local root number w_p at bad p."""
    table = np.zeros((len(classes), len(primes)), dtype=np.int64)
    large = [j for j, p in enumerate(primes) if p not in SMALL_PRIMES]
    if classes and large:
        table[:, large] = traces_by_point_counts(
            [c.c4 for c in classes], [c.c6 for c in classes], [c.conductor for c in classes],
            [primes[j] for j in large])
    column = {p: j for j, p in enumerate(primes)}
    for row, data in enumerate(classes):
        for p, value in [*data.small_traces.items(), *zip(data.bad_primes, data.root_numbers)]:
            if p in column:
                table[row, column[p]] = value
    return table


def class_central_sums(aplists: np.ndarray, primes: list[int], conductors: np.ndarray,
                       terms: np.ndarray) -> np.ndarray:
    """The (classes, 2) central L-series sums (:func:`arithmetic.lseries.class_central_values`)
    of each class to its ``terms`` terms, from its aplist entries at ``primes`` (every prime up
    to max(terms) at least): the a_n by :func:`arithmetic.lseries.dirichlet_coefficients`, for
    blocks of classes whose a_n fill at most :data:`COEFFICIENTS_PER_BLOCK` doubles."""
    n_max = int(terms.max(initial=1))
    needed = [j for j, p in enumerate(primes) if p <= n_max]
    rows = max(1, COEFFICIENTS_PER_BLOCK // (n_max + 1))
    sums = np.empty((len(conductors), 2))
    for start in range(0, len(conductors), rows):
        block = slice(start, start + rows)
        aplist = {primes[j]: aplists[block, j] for j in needed}
        coefficients = dirichlet_coefficients(aplist, conductors[block], n_max)
        sums[block] = truncated_central_values(coefficients, conductors[block], terms[block])
    return sums


def class_values(classes: list[ClassData], primes: list[int], l_series_tolerance: float,
                 l_series_terms_max: int) -> dict[str, np.ndarray]:
    """Column -> one value per class: :data:`CLASS_COLUMNS` and ``ap_<p>`` for p in ``primes``,
    the a_p and the sums (see :func:`class_arithmetic`) for all the classes at once."""
    conductors = np.array([c.conductor for c in classes], dtype=np.int64)
    terms = np.array([sum_terms(int(n), l_series_tolerance, l_series_terms_max)
                      for n in conductors], dtype=np.int64)
    every_prime = primes_up_to(max(int(terms.max(initial=1)), max(primes, default=1)))
    aplists = class_aplists(classes, every_prime)
    sums = class_central_sums(aplists, every_prime, conductors, terms)
    column = {p: j for j, p in enumerate(every_prime)}
    counts = np.array([c.reduction_counts() for c in classes], dtype=np.int64).reshape(
        len(classes), len(REDUCTION_COLUMNS))
    return {**{name: counts[:, j] for j, name in enumerate(REDUCTION_COLUMNS)},
            "l_series_0": sums[:, 0], "l_series_1": sums[:, 1], "l_series_terms": terms,
            **{ap_column(p): aplists[:, column[p]] for p in primes}}


def tables_pay_off(classes: int, terms: int) -> bool:
    """True when the point-count tables to ``terms`` terms (:func:`class_aplists`) cost less
    than ``ellan`` for ``classes`` classes. Measured on one core of this machine class
    (benchmarks/bench_lseries.py): the tables about 0.35 s at 3,856 terms and 7.2 s at 20,000
    (cost ∝ terms^1.84), ``ellan`` about 2.7 ms and 25 ms a class (∝ terms^1.35); so the
    tables win above about 130 classes at 3,856 terms and 290 at 20,000. That is the cost of a
    process's first call: later calls reuse the tables of the primes below 5,000
    (:func:`arithmetic.point_counts.prime_tables`), so for them this errs towards ``ellan``."""
    scale = max(terms, 1) / 3856
    return classes * 2.7e-3 * scale ** 1.35 > 0.35 * scale ** 1.84


def curve_rows(curves: pl.DataFrame) -> zip:
    """(isogeny class, conductor, a-invariants as ints) of each curve: the columns read whole
    (``iter_rows`` converts each decimal a-invariant by itself, about 4 times slower)."""
    return zip(curves["isogeny_class"].to_list(), curves["conductor"].to_list(),
               [[int(a) for a in ainvs] for ainvs in curves["ainvs"].to_list()])


def class_arithmetic(pari: cypari2.Pari, curves: pl.DataFrame, primes: list[int],
                     l_series_tolerance: float, l_series_terms_max: int) -> pl.DataFrame:
    """Per curve (rows of ``data/curves.parquet``, whole classes, each contiguous): its class's
    :data:`CLASS_COLUMNS` and ``ap_<p>`` for every p in ``primes`` (aplist convention), and its
    own Kodaira symbol counts (:data:`arithmetic.local_data.LOCAL_DATA_SCHEMA`), which vary
    within the class. The central L-series sums take :func:`arithmetic.lseries.terms_needed`
    terms for ``l_series_tolerance``, at most ``l_series_terms_max`` (beyond, a partial sum:
    ``l_series_terms`` says how many).

    By point counts (:func:`class_arithmetic_by_point_counts`), or for a few classes at large
    conductors, where the tables would cost more (:func:`tables_pay_off`), by PARI's ``ellan``
    (:func:`class_arithmetic_by_ellan`): the same values either way.
    """
    largest = (sum_terms(int(curves["conductor"].max()), l_series_tolerance, l_series_terms_max)
               if len(curves) else 1)
    way = (class_arithmetic_by_point_counts
           if tables_pay_off(curves["isogeny_class"].n_unique(), largest)
           else class_arithmetic_by_ellan)
    return way(pari, curves, primes, l_series_tolerance, l_series_terms_max)


def class_arithmetic_by_point_counts(pari: cypari2.Pari, curves: pl.DataFrame,
                                     primes: list[int], l_series_tolerance: float,
                                     l_series_terms_max: int) -> pl.DataFrame:
    """:func:`class_arithmetic` with the a_p at the good primes p >= 5 from point counts, each
    prime's tables once for all the classes (:func:`class_aplists`), and the a_n of the sums
    from them; the class's PARI work done once, on its first curve (:func:`class_pari_data`)."""
    classes, class_of_curve, kodaira, current = [], [], [], None
    for iso, conductor, ainvs in curve_rows(curves):
        curve = pari.ellinit(ainvs)
        if iso != current:
            current = iso
            classes.append(class_pari_data(pari, curve, conductor))
        class_of_curve.append(len(classes) - 1)
        local = local_reduction(pari, curve, classes[-1].bad_primes)
        kodaira.append(list(kodaira_counts(local).values()))
    values = class_values(classes, primes, l_series_tolerance, l_series_terms_max)
    index = np.array(class_of_curve, dtype=np.int64)
    schema = {**CLASS_COLUMNS, **{ap_column(p): pl.Int16 for p in primes}}
    per_class = [pl.Series(name, values[name][index], dtype=dtype)
                 for name, dtype in schema.items()]
    per_curve = pl.DataFrame(kodaira, schema=LOCAL_DATA_SCHEMA, orient="row")
    return pl.concat([curves.select("label"), pl.DataFrame(per_class), per_curve],
                     how="horizontal")


def class_arithmetic_by_ellan(pari: cypari2.Pari, curves: pl.DataFrame, primes: list[int],
                              l_series_tolerance: float, l_series_terms_max: int
                              ) -> pl.DataFrame:
    """:func:`class_arithmetic` with every class's a_n from PARI's ``ellan`` (each class's
    Dirichlet coefficients straight from PARI, about 2.7 ms a class at N ≈ 490,000): cheaper
    than the point counts for a few classes at large conductors, and the reference that the
    tests and ``benchmarks/bench_lseries.py`` check those against, column by column."""
    rows, current, values, data = [], None, None, None
    for iso, conductor, ainvs in curve_rows(curves):
        curve = pari.ellinit(ainvs)
        if iso != current:
            current = iso
            data = class_pari_data(pari, curve, conductor)
            terms = sum_terms(conductor, l_series_tolerance, l_series_terms_max)
            an = pari.ellan(curve, max(terms, primes[-1] if primes else 1))
            values = [*data.reduction_counts(),
                      *class_central_values(small_integers(pari, an)[:terms], conductor), terms,
                      *aplist(pari, curve, conductor, primes, an)]
        rows.append([*values, *kodaira_counts(local_reduction(pari, curve,
                                                              data.bad_primes)).values()])
    schema = {**CLASS_COLUMNS, **{ap_column(p): pl.Int16 for p in primes}, **LOCAL_DATA_SCHEMA}
    computed = pl.DataFrame(rows, schema=schema, orient="row")
    return pl.concat([curves.select("label"), computed], how="horizontal")
