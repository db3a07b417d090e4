"""Oversubscribed BLAS/OpenMP pools in the train stage's workers, side by side.

The train stage runs ``search.workers`` processes; each fits LightGBM with ``search.threads``
threads, but scikit-learn's logistic regression (the BSD identity baseline of a classification
target) and numpy run on the process's BLAS and OpenMP pools, which by default take every core.
This runs ``--workers`` processes at once, each fitting the BSD identity baseline of ``torsion``
on the default run's ``bsd`` group (``data/features.parquet``, every curve), first with the pools
left alone, then capped at one thread each (as ``pipeline.train.start_worker`` does), and
prints the wall times, their ratio and each fit's iterations.

    python -m benchmarks.bench_threads --workers 2
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import polars as pl

COLUMNS = ["rank", "log_tamagawa_product", "log_real_period", "log_regulator",
           "log_special_value", "log_sha_an"]


def fit(path: str, cap: int | None) -> dict:
    """One BSD identity fit of ``torsion``; ``cap``: the pools' threads (None: as they are)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from models.baselines import BsdIdentityBaseline
    if cap is not None:
        threadpool_limits(limits=cap)
    frame = pl.read_parquet(path).drop_nulls(COLUMNS).with_columns(
        torsion=pl.col("log_torsion").exp().round().cast(pl.Int64))
    started = time.perf_counter()
    baseline = BsdIdentityBaseline("classification", COLUMNS).fit(frame, "torsion")
    return {"seconds": time.perf_counter() - started,
            "iterations": int(np.max(baseline._model[-1].n_iter_)),
            "threads": sorted({p["num_threads"] for p in threadpool_info()})}


def side_by_side(path: str, workers: int, cap: int | None) -> dict:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        fits = list(pool.map(fit, [path] * workers, [cap] * workers))
    return {"wall": time.perf_counter() - started, "fits": fits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--features", default="data/features.parquet")
    args = parser.parse_args()
    default = side_by_side(args.features, args.workers, None)
    capped = side_by_side(args.features, args.workers, 1)
    print(json.dumps({"workers": args.workers, "pools as they are": default,
                      "pools at 1 thread": capped,
                      "ratio": round(default["wall"] / capped["wall"], 2)}, indent=1))


if __name__ == "__main__":
    main()
