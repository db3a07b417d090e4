"""Benchmark: the features stage's central L-series sums, the code before per-conductor weights
against the current one, side by side on the same curves in one run.

    taskset -c 1 python -m benchmarks.bench_lseries --conductor-min 490000 --conductor-max 492017

The curves of the conductor range come from the embedded Cremona tables
(:func:`arithmetic.elldata.read_curves`); per isogeny class the a_n are PARI's ``ellan`` to
:func:`arithmetic.lseries.terms_needed` terms at the ``features`` params' tolerance, read as the
stage reads them (:func:`arithmetic.traces.small_integers`). Timed, each ``--repeats`` times,
interleaved, best taken:

- the sums alone: :func:`old_class_central_values` (the code before, kept here as the
  reference) and :func:`arithmetic.lseries.class_central_values` on every class's a_n, the new
  one with its weight cache emptied first;
- the stage's PARI part, :func:`arithmetic.traces.class_arithmetic` (factorizations, ``ellan``,
  local data, the sums), with the old sums put in its place and with the new.

Every sum of the two must agree to 1e-12, relative, or absolute where |value| < 1e-3 (L(E,1)
of a curve of positive rank is 0 up to the rounding of its terms).
"""
from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import numpy as np
import polars as pl
from scipy.special import exp1

import arithmetic.lseries as lseries
from arithmetic.elldata import read_curves
from arithmetic.pari import start_pari
from arithmetic.traces import class_arithmetic, primes_up_to, small_integers
from pipeline.features import REALPRECISION
from pipeline.params import load_params

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
        terms = min(lseries.terms_needed(conductor, tolerance), terms_max)
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
    """class_arithmetic imports class_central_values at each call: swap it for ``function``."""
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
    args = parser.parse_args()
    section = load_params().features
    pari = start_pari(REALPRECISION, section.pari_stack_mb)
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
    stage_seconds = {name: [] for name in sums}
    frames = {}
    for _ in range(args.repeats):
        for name, function in sums.items():
            lseries.central_weights.cache_clear()
            with sums_in_place(function):
                start = time.perf_counter()
                frames[name] = class_arithmetic(pari, curves, primes, section.l_series_tolerance,
                                                section.l_series_terms_max)
                stage_seconds[name].append(time.perf_counter() - start)
    best = {name: min(times) for name, times in stage_seconds.items()}
    for name in sums:
        print(f"class_arithmetic {name}: {best[name]:.2f} s, {len(curves) / best[name]:,.0f} "
              "curves/s")
    print(f"class_arithmetic ratio old/new: {best['old'] / best['new']:.2f}x; of it ellan "
          f"{ellan_seconds:.2f} s")
    for column in ("l_series_0", "l_series_1"):
        relative, absolute = disagreement(frames["old"][column].to_numpy(),
                                          frames["new"][column].to_numpy())
        assert relative <= 1e-12 and absolute <= 1e-12, (column, relative, absolute)
    others = [c for c in frames["old"].columns if c not in ("l_series_0", "l_series_1")]
    assert frames["old"].select(others).equals(frames["new"].select(others))


if __name__ == "__main__":
    main()
