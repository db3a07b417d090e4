"""Benchmark: the cost of each invariant of the invariants stage by conductor, and the
full-range estimate that sets its default bounds.

    python -m benchmarks.bench_invariants                      # samples at N ≈ 1,000 .. 9,900
    python -m benchmarks.bench_invariants --windows 1000 5000 9900 100000 400000 --classes 20

For each conductor window [N, N + width) the first ``--classes`` isogeny classes of the embedded
Cremona tables are timed one PARI call at a time, in one process: ``ellisomat`` with the
matching of its curves (per class), the Szpiro ratio (per curve), ``lfunzeros`` for the first
``invariants.zeros`` zeros (per class), ``ellrank`` for the 2-Selmer rank (per curve) and
``ellmoddegree`` (per optimal curve), with one PARI thread as in the stage. The per-curve
costs are reported beside 15 µs × N, the modular degree's rough law. The full-range estimate
integrates the measured cost laws over the conductor distribution of the curves of the tables
(read from the embedded tables, every conductor < 500,000), as a fit cost = a + b·N per quantity
(least squares over the windows).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl

from arithmetic.invariants import (isogeny_matrix, low_zeros, modular_degree, optimal_number,
                                   single_threaded, szpiro_ratio, two_selmer_rank)
from arithmetic.pari import start_pari
from machinery.params import load_params
from sources.elldata import read_curves


def _time(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def window_costs(pari, curves: pl.DataFrame, zeros: int) -> dict[str, float]:
    """Median seconds per call over the classes of ``curves``."""
    costs = {"isogeny": [], "szpiro": [], "zeros": [], "selmer": [], "degree": []}
    for (iso,), rows in curves.group_by("isogeny_class", maintain_order=True):
        rows = rows.to_dicts()
        conductor = rows[0]["conductor"]
        elliptic = [pari.ellinit([int(a) for a in row["ainvs"]]) for row in rows]
        costs["isogeny"].append(_time(lambda: isogeny_matrix(
            pari, [row["ainvs"] for row in rows], iso)))
        costs["szpiro"].append(_time(lambda: szpiro_ratio(int(elliptic[0].disc()), conductor)))
        costs["zeros"].append(_time(lambda: low_zeros(pari, elliptic[0], conductor, zeros)))
        costs["selmer"].append(_time(lambda: two_selmer_rank(pari, elliptic[0])))
        optimal = next(e for e, row in zip(elliptic, rows)
                       if row["number"] == optimal_number(iso))
        costs["degree"].append(_time(lambda: modular_degree(pari, optimal, rows[0]["label"])))
    return {name: statistics.median(values) for name, values in costs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[1000, 3000, 5000, 9000])
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--classes", type=int, default=30)
    parser.add_argument("--full-max", type=int, default=500_000,
                        help="the conductor range of the full-range estimate")
    args = parser.parse_args()
    section = load_params().invariants
    pari = start_pari(19, section.pari_stack_mb)
    single_threaded(pari, section.pari_stack_mb)          # as the stage's workers: one core each
    rows = []
    for low in args.windows:
        curves = read_curves(low, low + args.width)
        classes = curves["isogeny_class"].unique(maintain_order=True).head(args.classes)
        sample = curves.filter(pl.col("isogeny_class").is_in(classes.implode()))
        costs = window_costs(pari, sample, section.zeros)
        rows.append({"N": low + args.width // 2, "classes": len(classes),
                     "curves_per_class": len(curves) / curves["isogeny_class"].n_unique(),
                     **costs})
    table = pl.DataFrame(rows)
    print("median ms per call (isogeny, zeros: per class; szpiro, selmer: per curve; "
          "degree: per optimal curve)")
    print(f"{'N':>7} {'isogeny':>8} {'szpiro':>7} {'zeros':>7} {'selmer':>7} {'degree':>8} "
          f"{'15us*N':>8} {'degree/15us*N':>14}")
    for r in table.iter_rows(named=True):
        law = 15e-6 * r["N"]
        print(f"{r['N']:>7} {r['isogeny'] * 1e3:>8.2f} {r['szpiro'] * 1e3:>7.3f} "
              f"{r['zeros'] * 1e3:>7.2f} {r['selmer'] * 1e3:>7.2f} {r['degree'] * 1e3:>8.1f} "
              f"{law * 1e3:>8.1f} {r['degree'] / law:>14.2f}")
    everything = read_curves(1, args.full_max).select("isogeny_class", "conductor")
    classes = everything.unique("isogeny_class", keep="first")["conductor"].to_numpy()
    per_curve = everything["conductor"].to_numpy()
    n = table["N"].to_numpy().astype(float)
    print(f"\nfull range N < {args.full_max:,}: {len(per_curve):,} curves, {len(classes):,} "
          "classes; one core, cost = a + b·N fitted over the windows:")
    for name, counted in (("isogeny", classes), ("szpiro", per_curve), ("zeros", classes),
                          ("selmer", per_curve), ("degree", classes)):
        slope, intercept = np.polyfit(n, table[name].to_numpy(), 1)
        total = float(np.sum(np.maximum(intercept + slope * counted, 0)))
        print(f"  {name:8s} a = {intercept * 1e3:7.3f} ms, b = {slope * 1e6:8.4f} µs per unit N:"
              f" {total:10,.0f} s = {total / 3600:6.2f} h")


if __name__ == "__main__":
    main()
