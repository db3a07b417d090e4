"""Benchmark: the features stage's per-class PARI part, :func:`arithmetic.traces.class_arithmetic`,
against the implementations before it, side by side on the same curves in one run.

    taskset -c 1 python -m benchmarks.bench_lseries --conductor-min 490000 --conductor-max 492017

The curves of the conductor range come from the embedded Cremona tables
(:func:`sources.elldata.read_curves`). Timed, each ``--repeats`` times, interleaved, best taken:

- the central L-series sums alone, on every class's a_n from PARI's ``ellan`` to
  :func:`arithmetic.lseries.terms_needed` terms at the ``features`` params' tolerance:
  :func:`old_class_central_values` (each class its own exp and E₁, commit d9a0089) against
  :func:`arithmetic.lseries.class_central_values` (weights once per conductor), its weight cache
  emptied first;
- the whole per-class part (factorizations, local data, a_p, the sums), three ways:
  ``d9a0089``, :func:`arithmetic.traces.class_arithmetic_by_ellan` (``ellan`` to the sums'
  length for every class) with the old sums put in place; ``ellan``, the same with the
  per-conductor weights; ``point counts``, :func:`arithmetic.traces.class_arithmetic` (a_p at
  p >= 5 from :mod:`arithmetic.point_counts`, the a_n from them), its caches emptied first.

Every column of the three tables must be equal, but the sums of ``d9a0089``, which must agree to
1e-12, relative, or absolute where |value| < 1e-3 (L(E,1) of a curve of positive rank is 0 up to
the rounding of its terms). For the scale, the bsd stage's per-class work on the same classes,
:func:`arithmetic.bsd.class_l_data` (``ellanalyticrank`` and ``ellrootno`` at the ``bsd``
params' ``lfunction_bits``), is timed once on every ``--bsd-every``-th class and extrapolated
to all (0 skips it).
"""
from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import numpy as np
import polars as pl
from scipy.special import exp1

import arithmetic.lseries as lseries
from arithmetic.bsd import class_l_data
from arithmetic.pari import start_pari
from arithmetic.primes import primes_up_to
from arithmetic.traces import class_arithmetic, class_arithmetic_by_ellan, small_integers
from machinery.params import load_params
from pipeline.feature_table import REALPRECISION
from sources.elldata import read_curves

#: Below this |value| the agreement is measured absolutely.
NEAR_ZERO = 1e-3


def old_central_sums(coefficients: np.ndarray, conductor: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The sums as computed before: every class's own exp and E₁ at every n."""
    n = np.arange(1, coefficients.shape[1])
    x = 2 * np.pi * n[None, :] / np.sqrt(np.asarray(conductor, dtype=float))[:, None]
    terms = coefficients[:, 1:] / n[None, :]
    return 2 * (terms * np.exp(-x)).sum(axis=1), 2 * (terms * exp1(x)).sum(axis=1)


def old_class_central_values(an: list[int], conductor: int) -> tuple[float, float]:
    coefficients = np.concatenate([[0.0], np.asarray(an, dtype=np.float64)])[None, :]
    value, derivative = old_central_sums(coefficients, np.array([conductor]))
    return float(value[0]), float(derivative[0])


def class_coefficients(pari, curves: pl.DataFrame, tolerance: float, terms_max: int
                       ) -> tuple[list[int], list[list[int]], float]:
    """(conductor, a_1..a_terms) of each class's first curve, and the seconds of ``ellan``."""
    first = curves.unique("isogeny_class", keep="first", maintain_order=True)
    conductors, coefficients, seconds = [], [], 0.0
    for conductor, ainvs in first.select("conductor", "ainvs").iter_rows():
        terms = lseries.sum_terms(conductor, tolerance, terms_max)
        curve = pari.ellinit([int(a) for a in ainvs])
        start = time.perf_counter()
        an = pari.ellan(curve, terms)
        seconds += time.perf_counter() - start
        conductors.append(conductor)
        coefficients.append(small_integers(pari, an))
    return conductors, coefficients, seconds


def disagreement(old: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """(largest relative difference where |old| >= NEAR_ZERO, largest absolute one below)."""
    large = np.abs(old) >= NEAR_ZERO
    relative = np.abs(new[large] - old[large]) / np.abs(old[large])
    absolute = np.abs(new[~large] - old[~large])
    return (float(relative.max(initial=0.0)), float(absolute.max(initial=0.0)))


@contextmanager
def sums_in_place(function):
    """class_arithmetic_by_ellan imports class_central_values at each call: swap it for
    ``function``."""
    current = lseries.class_central_values
    lseries.class_central_values = function
    try:
        yield
    finally:
        lseries.class_central_values = current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conductor-min", type=int, default=490_000)
    parser.add_argument("--conductor-max", type=int, default=492_017)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bsd-every", type=int, default=1,
                        help="time the bsd stage's class_l_data on every k-th class (0: not)")
    args = parser.parse_args()
    params = load_params()
    section = params.features
    # one PARI for both stages' work: the larger of their stack ceilings
    pari = start_pari(REALPRECISION, max(section.pari_stack_mb, params.bsd.pari_stack_mb))
    curves = read_curves(args.conductor_min, args.conductor_max)
    conductors, coefficients, ellan_seconds = class_coefficients(
        pari, curves, section.l_series_tolerance, section.l_series_terms_max)
    print(f"{len(curves):,} curves, {len(conductors):,} classes, {len(set(conductors)):,} "
          f"conductors in {args.conductor_min:,} <= N < {args.conductor_max:,}; "
          f"{max(map(len, coefficients)):,} terms at most; ellan {ellan_seconds:.2f} s")

    sums = {"old": old_class_central_values, "new": lseries.class_central_values}
    seconds = {name: [] for name in sums}
    values = {}
    for _ in range(args.repeats):
        for name, function in sums.items():
            lseries.central_weights.cache_clear()
            start = time.perf_counter()
            values[name] = np.array([function(an, n) for an, n in zip(coefficients, conductors)])
            seconds[name].append(time.perf_counter() - start)
    best = {name: min(times) for name, times in seconds.items()}
    for name in sums:
        print(f"sums {name}: {best[name]:.3f} s, {len(curves) / best[name]:,.0f} curves/s")
    print(f"sums ratio old/new: {best['old'] / best['new']:.2f}x")
    for column, name in ((0, "L(E,1) sum"), (1, "L'(E,1) sum")):
        relative, absolute = disagreement(values["old"][:, column], values["new"][:, column])
        print(f"{name}: max relative difference {relative:.2e}, max absolute (|x| < "
              f"{NEAR_ZERO:g}) {absolute:.2e}")
        assert relative <= 1e-12 and absolute <= 1e-12, (name, relative, absolute)

    primes = primes_up_to(section.primes_max)
    frames, stage_seconds = time_stages(pari, curves, primes, section.l_series_tolerance,
                                        section.l_series_terms_max, args.repeats)
    for name, seconds in stage_seconds.items():
        print(f"class_arithmetic {name}: {seconds:.2f} s, {len(curves) / seconds:,.0f} curves/s")
    new = stage_seconds["point counts"]
    print(f"class_arithmetic ratio d9a0089/point counts: {stage_seconds['d9a0089'] / new:.2f}x, "
          f"ellan/point counts: {stage_seconds['ellan'] / new:.2f}x; ellan alone "
          f"{ellan_seconds:.2f} s")
    check_tables(frames)
    if args.bsd_every:
        bsd_seconds, timed = time_bsd_classes(pari, curves, params.bsd.lfunction_bits,
                                              args.bsd_every)
        print(f"bsd class_l_data: {timed:,} classes in {bsd_seconds:.2f} s, extrapolated to "
              f"{len(conductors):,} classes {bsd_seconds * len(conductors) / timed:.1f} s; "
              f"class_arithmetic point counts / bsd: "
              f"{new / (bsd_seconds * len(conductors) / timed):.3f}")


STAGES = ("d9a0089", "ellan", "point counts")


def time_stages(pari, curves: pl.DataFrame, primes: list[int], tolerance: float, terms_max: int,
                repeats: int) -> tuple[dict[str, pl.DataFrame], dict[str, float]]:
    """Each implementation's table and its best seconds of ``repeats``, interleaved."""
    def d9a0089(*arguments):
        with sums_in_place(old_class_central_values):
            return class_arithmetic_by_ellan(*arguments)

    functions = dict(zip(STAGES, (d9a0089, class_arithmetic_by_ellan, class_arithmetic)))
    seconds = {name: [] for name in STAGES}
    frames = {}
    for _ in range(repeats):
        for name, function in functions.items():
            lseries.central_weights.cache_clear()
            lseries.multiplicative_steps.cache_clear()
            start = time.perf_counter()
            frames[name] = function(pari, curves, primes, tolerance, terms_max)
            seconds[name].append(time.perf_counter() - start)
    return frames, {name: min(times) for name, times in seconds.items()}


def check_tables(frames: dict[str, pl.DataFrame]) -> None:
    """The point-count table equals the ``ellan`` one in every column, and the d9a0089 one in
    every column but the sums, which agree to 1e-12 (:func:`disagreement`)."""
    new = frames["point counts"]
    assert new.schema == frames["ellan"].schema == frames["d9a0089"].schema
    assert new.equals(frames["ellan"]), "point counts and ellan tables differ"
    sums = ("l_series_0", "l_series_1")
    for column in sums:
        relative, absolute = disagreement(frames["d9a0089"][column].to_numpy(),
                                          new[column].to_numpy())
        print(f"{column} against d9a0089: max relative difference {relative:.2e}, max absolute "
              f"(|x| < {NEAR_ZERO:g}) {absolute:.2e}")
        assert relative <= 1e-12 and absolute <= 1e-12, (column, relative, absolute)
    others = [c for c in new.columns if c not in sums]
    assert frames["d9a0089"].select(others).equals(new.select(others))
    print(f"tables equal: {len(new.columns)} columns x {len(new):,} rows (ellan: every value; "
          "d9a0089: all but the sums)")


def time_bsd_classes(pari, curves: pl.DataFrame, lfunction_bits: int, every: int
                     ) -> tuple[float, int]:
    """(seconds, classes) of :func:`arithmetic.bsd.class_l_data` on the first curve of every
    ``every``-th class, as the bsd stage calls it (ellinit not timed)."""
    first = curves.unique("isogeny_class", keep="first", maintain_order=True)[::every]
    seconds = 0.0
    for ainvs in first["ainvs"].to_list():
        curve = pari.ellinit([int(a) for a in ainvs])
        start = time.perf_counter()
        class_l_data(pari, curve, lfunction_bits)
        seconds += time.perf_counter() - start
    return seconds, len(first)


if __name__ == "__main__":
    main()
