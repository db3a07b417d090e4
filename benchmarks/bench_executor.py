"""The same bsd work through the local executor (1 and 2 worker processes) and the dask
executor (a LocalCluster of 2 single-threaded worker processes), in one run; ratios against
the local executor's 1 worker, and the tables checked equal.

    python -m benchmarks.bench_executor --conductor-max 10000
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from machinery.params import Executor, load_params
from pipeline.bsd import compute_bsd
from sources.elldata import read_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conductor-min", type=int, default=1)
    parser.add_argument("--conductor-max", type=int, default=10_000)
    args = parser.parse_args()
    curves = read_curves(args.conductor_min, args.conductor_max)
    section = load_params().bsd
    runs = [("local, 1 worker", 1, None), ("local, 2 workers", 2, None),
            ("dask LocalCluster, 2 workers", 2, Executor(kind="dask"))]
    seconds, tables = {}, {}
    for name, workers, executor in runs:
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            tables[name] = compute_bsd(curves, section.model_copy(update={"workers": workers}),
                                       Path(scratch) / "chunks", executor).collect()
            seconds[name] = time.perf_counter() - start
    first = runs[0][0]
    assert all(t.equals(tables[first]) for t in tables.values()), "the executors disagree"
    print(f"{len(curves):,} curves, {args.conductor_min} <= N < {args.conductor_max}; "
          "identical tables")
    for name, _, _ in runs:
        print(f"| {name} | {seconds[name]:.1f} s | {seconds[first] / seconds[name]:.2f}x |")


if __name__ == "__main__":
    main()
