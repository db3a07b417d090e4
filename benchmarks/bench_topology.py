"""Benchmark: the cost of one cloud's persistent homology against its landmark count.

    python -m benchmarks.bench_topology --sizes 50 100 200 400 800

For each size: landmark selection and Vietoris–Rips persistence (H0, H1) of the default
run's a_p cloud of rank-0 curves (one curve per isogeny class), and of a Gaussian cloud of the
same shape; median of ``--repeats`` seconds, and the growth exponent between sizes
(log time ratio / log size ratio).
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import polars as pl

from arithmetic.primes import primes_up_to
from machinery.params import load_params
from models.clouds import clouds, gaussian
from models.features import model_frame
from models.topology import describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400, 800])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    params = load_params()
    section = params.topology
    frame = model_frame(pl.read_parquet(params.paths.features), pl.read_parquet(params.paths.bsd))
    found = clouds(frame, [tuple(w) for w in section.conductor_windows],
                   primes_up_to(section.ap_primes_max), section.minimum_curves)
    cloud = next(c for c in found if c.family == "ap" and c.group == "rank 0")
    points = cloud.points(frame)
    rng = np.random.default_rng(0)
    noise = gaussian(points)(rng)
    dimensions = tuple(section.homology_dimensions)
    print(f"a_p cloud, rank 0: {len(points):,} curves x {points.shape[1]} primes; H{dimensions}")
    previous = None
    for size in args.sizes:
        row = []
        for cloud_points in (points, noise):
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                describe([cloud_points], size, dimensions, rng)
                times.append(time.perf_counter() - started)
            row.append(statistics.median(times))
        growth = "" if previous is None else \
            f"  growth exponent {math.log(row[0] / previous[1]) / math.log(size / previous[0]):.2f}"
        print(f"{size:5d} landmarks: a_p cloud {row[0]:7.3f} s, gaussian {row[1]:7.3f} s{growth}")
        previous = (size, row[0])


if __name__ == "__main__":
    main()
