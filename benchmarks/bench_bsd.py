"""Benchmark: the bsd stage against a bare cypari2 loop over the same curves, in one run.

    make bench                       # default range, conductors < 10,000
    python -m benchmarks.bench_bsd --conductor-min 9000 --conductor-max 10000

The bare loop does only the PARI calls the BSD quantities need (per class: ellanalyticrank and
ellrootno; per curve: ellinit, ellglobalred, elltors, the period, the height matrix) with no
checks, chunking, parquet or processes. The stage runs through the same code path as
``dvc repro`` (plan chunks, run them, assemble the table) with 1 and with 2 workers.
The bare loop also runs as two processes over alternate classes at once: the most two PARI
processes achieve on the machine. Prints curves/s for each and the ratios to the bare loop.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from math import factorial
from pathlib import Path

import polars as pl

from arithmetic.elldata import read_curves
from arithmetic.pari import start_pari
from pipeline.bsd import compute_bsd
from pipeline.params import load_params


def bare_loop(pari, curves: pl.DataFrame) -> float:
    """Seconds for the raw cypari2 computation of every curve's BSD quantities."""
    start = time.perf_counter()
    current, rank, special = None, 0, None
    for label, iso, ainvs, gens in curves.select("label", "isogeny_class", "ainvs", "gens").iter_rows():
        curve = pari.ellinit([int(a) for a in ainvs])
        if iso != current:
            current = iso
            rank, derivative = pari.ellanalyticrank(curve)
            special = derivative / factorial(int(rank))
            pari.ellrootno(curve)
        tamagawa = pari.ellglobalred(curve)[2]
        torsion = pari.elltors(curve)[0]
        omega = curve.omega()[0] * (2 if curve.disc() > 0 else 1)
        regulator = pari.matdet(pari.ellheightmatrix(curve, pari(str(gens).replace("'", "")))) \
            if gens else 1
        float(special * torsion**2 / (omega * regulator * tamagawa))
    return time.perf_counter() - start


def _bare_in_worker(curves: pl.DataFrame, realprecision: int, stack_mb: int) -> float:
    return bare_loop(start_pari(realprecision, stack_mb), curves)


def bare_two_processes(curves: pl.DataFrame, realprecision: int, stack_mb: int) -> float:
    """Wall seconds for two bare loops at once, each over alternate isogeny classes: the most
    two PARI processes can do on this machine (process start-up included, as in the stage)."""
    half = curves["isogeny_class"].rank("dense") % 2
    halves = [(curves.filter(half == h), realprecision, stack_mb) for h in (0, 1)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(_bare_in_worker, halves)
    return time.perf_counter() - start


def stage(curves: pl.DataFrame, workers: int) -> float:
    section = load_params().bsd.model_copy(update={"workers": workers})
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        compute_bsd(curves, section, Path(scratch) / "chunks").collect()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conductor-min", type=int, default=1)
    parser.add_argument("--conductor-max", type=int, default=10_000)
    args = parser.parse_args()
    params = load_params()
    curves = read_curves(args.conductor_min, args.conductor_max)
    pari = start_pari(params.bsd.realprecision, params.bsd.pari_stack_mb)
    n = len(curves)
    print(f"{n} curves, {curves['isogeny_class'].n_unique()} classes, conductors "
          f"{args.conductor_min} <= N < {args.conductor_max}; {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    bare = bare_loop(pari, curves)
    bare_two = bare_two_processes(curves, params.bsd.realprecision, params.bsd.pari_stack_mb)
    one = stage(curves, 1)
    two = stage(curves, 2)
    print(f"{'run':<28}{'seconds':>9}{'curves/s':>10}{'vs bare':>9}")
    for name, seconds in [("bare cypari2 loop", bare), ("bare loop, 2 processes", bare_two),
                          ("bsd stage, 1 worker", one), ("bsd stage, 2 workers", two)]:
        print(f"{name:<28}{seconds:>9.2f}{n / seconds:>10.0f}{bare / seconds:>8.2f}x")
    print(f"2 workers against 2 bare processes: {bare_two / two:.2f}x")


if __name__ == "__main__":
    main()
