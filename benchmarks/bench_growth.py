"""Cost growth of the bsd stage with the conductor, and a measured estimate of the full table.

    python -m benchmarks.bench_growth --classes 200

For each conductor bound B in 10^4, 5*10^4, 10^5, 5*10^5, a seeded sample of ``--classes``
isogeny classes with 0.9 B <= N < B (all their curves) goes through ``bsd_table`` (the stage's
own code, one process): curves per second, and per class the seconds of the L-function part
(``class_l_data``: ellanalyticrank + ellrootno) against the rest. A power law t = c N^a fitted
to the per-class times of all samples, summed over every class of the embedded tables below
500,000, estimates the bsd stage's time on the full table.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from arithmetic.bsd import bsd_table, class_l_data
from arithmetic.curves import checked_curve
from arithmetic.pari import precision_bits, start_pari
from machinery.params import Bsd, load_params
from sources.elldata import read_curves

BOUNDS = (10_000, 50_000, 100_000, 500_000)


def sample(bound: int, classes: int, seed: int) -> pl.DataFrame:
    curves = read_curves(int(0.9 * bound), bound)
    chosen = curves["isogeny_class"].unique(maintain_order=True).sample(
        min(classes, curves["isogeny_class"].n_unique()), seed=seed)
    return curves.filter(pl.col("isogeny_class").is_in(chosen.implode()))


def timings(pari, curves: pl.DataFrame, section: Bsd
            ) -> tuple[float, list[tuple[int, float, float]]]:
    """(seconds of bsd_table on all, [(conductor, L-function seconds, whole-class seconds)]),
    at the precisions and Sha tolerance of the ``bsd`` params section."""
    settings = (section.sha_tolerance, precision_bits(section.realprecision),
                section.lfunction_bits)
    start = time.perf_counter()
    bsd_table(pari, curves, *settings)
    total = time.perf_counter() - start
    per_class = []
    for (iso,), rows in curves.group_by("isogeny_class", maintain_order=True):
        first = rows.row(0, named=True)
        curve = checked_curve(pari, first["label"], first["conductor"], first["ainvs"],
                              first["gens"])[0]
        t0 = time.perf_counter()
        class_l_data(pari, curve, section.lfunction_bits)
        t1 = time.perf_counter()
        bsd_table(pari, rows, *settings)
        per_class.append((first["conductor"], t1 - t0, time.perf_counter() - t1))
    return total, per_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    section = load_params().bsd
    pari = start_pari(section.realprecision, 2048)
    rows = []
    print("| conductors | classes | curves | bsd_table (s) | curves/s | L-function s/class "
          "(median) | whole class s (median) | L share |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for bound in BOUNDS:
        curves = sample(bound, args.classes, args.seed)
        total, per_class = timings(pari, curves, section)
        rows += per_class
        l_times = [t for _, t, _ in per_class]
        whole = [t for _, _, t in per_class]
        print(f"| {int(0.9 * bound):,}–{bound:,} | {len(per_class)} | {len(curves):,} | "
              f"{total:.2f} | {len(curves) / total:,.0f} | {np.median(l_times) * 1e3:.1f} ms | "
              f"{np.median(whole) * 1e3:.1f} ms | {sum(l_times) / sum(whole):.0%} |", flush=True)
    conductors = np.array([n for n, _, _ in rows], dtype=float)
    seconds = np.array([t for _, _, t in rows])
    slope, intercept = np.polyfit(np.log(conductors), np.log(seconds), 1)
    every = read_curves(1, 500_000).unique("isogeny_class", keep="first")["conductor"]
    estimate = float(np.exp(intercept) * (every.cast(pl.Float64).to_numpy() ** slope).sum())
    print(f"\nper-class time ~ N^{slope:.2f}; summed over the {len(every):,} classes below "
          f"500,000: {estimate / 3600:.2f} h in one process, {estimate / 7200:.2f} h on 2 workers "
          "at perfect scaling")


if __name__ == "__main__":
    main()
