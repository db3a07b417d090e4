"""What Mordell–Weil generators and regulators add to the reference samples' PARI work: the
default height-ordered and Stein–Watkins samples (params.yaml) through
:func:`arithmetic.reference.reference_table` in one process, with the time spent finding
generators and regulators (:func:`arithmetic.reference.curve_generators`) measured apart, in
CPU seconds of the process (PARI runs in it), which other work on shared cores does not inflate.

    nice python -m benchmarks.bench_reference_generators
"""
from __future__ import annotations

import time
from collections import Counter

import polars as pl

import arithmetic.reference
from arithmetic.pari import start_pari
from arithmetic.reference import draw_height_sample, minimal_curves, reference_table
from machinery.params import load_params
from pipeline.reference import table_settings
from sources.stein_watkins import data_files, read_classes, sample_classes


def timed_generators(spent: list[tuple[float, str, int, int | None]]):
    """:func:`arithmetic.reference.curve_generators`, recording (seconds, label, N, rank)."""
    inner = arithmetic.reference.curve_generators

    def wrapper(pari, label, curve, conductor, rank, found, settings):
        start = time.process_time()
        result = inner(pari, label, curve, conductor, rank, found, settings)
        spent.append((time.process_time() - start, label, conductor, rank))
        return result
    return wrapper


def measure(name: str, curves: pl.DataFrame, section) -> None:
    pari = start_pari(section.realprecision, section.pari_stack_mb)
    spent: list = []
    inner = arithmetic.reference.curve_generators
    arithmetic.reference.curve_generators = timed_generators(spent)
    try:
        start = time.process_time()
        table = reference_table(pari, curves, **table_settings(section))
        total = time.process_time() - start
    finally:
        arithmetic.reference.curve_generators = inner
    extra = sum(s for s, *_ in spent)
    ranks = Counter(table["rank"].to_list())
    reasons = Counter(table["regulator_missing"].drop_nulls().to_list())
    positive = table.filter(pl.col("rank") > 0)
    print(f"{name}: {len(table):,} curves, ranks {dict(sorted(ranks.items(), key=str))}")
    print(f"  regulator known for {table['regulator'].is_not_null().sum():,} "
          f"({positive['regulator'].is_not_null().sum():,} of the {len(positive):,} of rank > 0);"
          f" missing: {dict(reasons) or 'none'}; sha_an for "
          f"{table['sha_an'].is_not_null().sum():,}, Sha > 1 for {(table['sha'] > 1).sum():,}")
    print(f"  {total:.1f} CPU s in all, {extra:.1f} s of it for generators and regulators "
          f"(+{extra / (total - extra):.0%} on the rest, {extra / max(len(positive), 1) * 1e3:.1f} "
          f"ms a curve of rank > 0)")
    print("  slowest:", ", ".join(f"{label} (N={n}, r={r}) {s:.2f} s"
                                  for s, label, n, r in sorted(spent, reverse=True)[:5]),
          flush=True)


def main() -> None:
    params = load_params()
    height = params.height_sample
    pari = start_pari(height.realprecision, height.pari_stack_mb)
    pairs = draw_height_sample(height.height, height.curves, height.seed)
    measure("height_sample", minimal_curves(pari, pairs), height)
    sw = params.stein_watkins
    table = read_classes(data_files()[sw.file].path, sw.conductor_min, sw.conductor_max)
    measure("stein_watkins", sample_classes(table, sw.classes, sw.seed), sw)


if __name__ == "__main__":
    main()
