"""Benchmark: the bsd stage against a bare cypari2 loop over the same curves, in one run.

    make bench                       # default range, conductors < 10,000
    python -m benchmarks.bench_bsd --conductor-min 9000 --conductor-max 10000

The bare loop makes the PARI calls for the same columns the stage writes (per class:
ellanalyticrank and ellrootno; per curve: ellinit, ellglobalred, elltors, the period, the height
matrix, and the discriminant, j-invariant, CM, semistability and Sha's square root), with no
checks (conductor, minimal model, generators on the curve), chunking, parquet or processes;
a second bare loop, timed beside it, makes only the calls of the BSD quantities (what this
benchmark compared against until 2026-11-25: the stage's extra columns cost it about 5%). The
stage runs through the same code path as ``dvc repro`` (plan chunks, run them, assemble the
table) with 1 and with 2 workers.
The bare loop also runs as two processes over alternate classes at once: the most two PARI
processes achieve on the machine. Timings on a shared machine vary by 10-25% between runs, so the
four measurements are repeated ``--repeats`` times, interleaved; each repeat's ratios are taken
within that repeat, and the medians are reported.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from math import factorial
from pathlib import Path

import polars as pl

from arithmetic.pari import precision_bits, start_pari
from machinery.params import Bsd, load_params
from pipeline.bsd import compute_bsd
from sources.elldata import read_curves


def bare_loop(pari, curves: pl.DataFrame, section: Bsd, same_columns: bool = True) -> float:
    """Seconds for the raw cypari2 computation of every curve's BSD quantities at the
    precisions of ``section`` (and, with ``same_columns``, of the other columns the stage
    writes)."""
    bits = precision_bits(section.realprecision)
    start = time.perf_counter()
    current, rank, special = None, 0, None
    for label, iso, conductor, ainvs, gens in curves.select(
            "label", "isogeny_class", "conductor", "ainvs", "gens").iter_rows():
        curve = pari.ellinit([int(a) for a in ainvs], precision=bits)
        if iso != current:
            current = iso
            rank, derivative = pari.ellanalyticrank(curve, precision=section.lfunction_bits)
            special = derivative / factorial(int(rank))
            sign = int(pari.ellrootno(curve))
        tamagawa = pari.ellglobalred(curve)[2]
        torsion = pari.elltors(curve)
        discriminant = curve.disc()
        omega = curve.omega()[0] * (2 if discriminant > 0 else 1)
        regulator = pari.matdet(pari.ellheightmatrix(curve, pari(str(gens).replace("'", "")),
                                                     precision=bits)) \
            if gens else 1
        sha = float(special * torsion[0]**2 / (omega * regulator * tamagawa))
        if same_columns:
            j = curve.j()
            (int(rank), int(torsion[0]), [int(n) for n in torsion[1]], int(tamagawa),
             float(omega), float(regulator), float(special), round(sha**0.5), sign,
             str(discriminant), str(j), int(j) if j.type() == "t_INT" else 0,
             bool(pari.issquarefree(conductor)))
    return time.perf_counter() - start


def _bare_in_worker(curves: pl.DataFrame, section: Bsd) -> float:
    return bare_loop(start_pari(section.realprecision, section.pari_stack_mb), curves, section)


def bare_two_processes(curves: pl.DataFrame, section: Bsd) -> float:
    """Wall seconds for two bare loops at once, each over alternate isogeny classes: the most
    two PARI processes can do on this machine (process start-up included, as in the stage)."""
    half = curves["isogeny_class"].rank("dense") % 2
    halves = [(curves.filter(half == h), section) for h in (0, 1)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(_bare_in_worker, halves)
    return time.perf_counter() - start


def stage(curves: pl.DataFrame, section: Bsd, workers: int) -> float:
    section = section.model_copy(update={"workers": workers})
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        compute_bsd(curves, section, Path(scratch) / "chunks").collect()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conductor-min", type=int, default=1)
    parser.add_argument("--conductor-max", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repetitions of the four measurements (default 3)")
    args = parser.parse_args()
    params = load_params()
    curves = read_curves(args.conductor_min, args.conductor_max)
    pari = start_pari(params.bsd.realprecision, params.bsd.pari_stack_mb)
    n = len(curves)
    print(f"{n} curves, {curves['isogeny_class'].n_unique()} classes, conductors "
          f"{args.conductor_min} <= N < {args.conductor_max}; {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    runs = {"bare cypari2 loop": [], "bare loop, 2 processes": [], "bsd stage, 1 worker": [],
            "bsd stage, 2 workers": [], "bare, BSD quantities only": []}
    for repeat in range(args.repeats):
        times = [bare_loop(pari, curves, params.bsd), bare_two_processes(curves, params.bsd),
                 stage(curves, params.bsd, 1), stage(curves, params.bsd, 2),
                 bare_loop(pari, curves, params.bsd, same_columns=False)]
        for name, seconds in zip(runs, times):
            runs[name].append(seconds)
        print(f"repeat {repeat + 1}: "
              + ", ".join(f"{name} {s:.2f} s" for name, s in zip(runs, times)),
              flush=True)
    bare = runs["bare cypari2 loop"]
    print(f"{'run (median of ' + str(args.repeats) + ')':<28}{'seconds':>9}{'curves/s':>10}"
          f"{'vs bare':>9}   per repeat")
    for name, seconds in runs.items():
        ratios = [b / s for b, s in zip(bare, seconds)]
        print(f"{name:<28}{statistics.median(seconds):>9.2f}{n / statistics.median(seconds):>10.0f}"
              f"{statistics.median(ratios):>8.2f}x   " + " ".join(f"{r:.2f}x" for r in ratios))
    ceiling = [b2 / s2 for b2, s2 in zip(runs["bare loop, 2 processes"],
                                         runs["bsd stage, 2 workers"])]
    print(f"2 workers against 2 bare processes: median {statistics.median(ceiling):.2f}x   "
          + " ".join(f"{r:.2f}x" for r in ceiling))

if __name__ == "__main__":
    main()
