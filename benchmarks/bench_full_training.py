"""Benchmark: one LightGBM fit of a search pair on growing shares of the whole table.

    python -m benchmarks.bench_full_training --pairs log_bsd_ratio:arithmetic rank:arithmetic

Run where the pipeline ran (on the full range: 3,064,705 curves). For each pair, the model the
train stage exports (``search.gbm``, 100 rounds, no early stopping, ``search.threads`` ×
``search.workers`` threads: the whole machine) is fitted on the curves of a seeded sample of
isogeny classes of growing size, up to every class; wall time, curves per second, and the peak
RSS of this process so far (sizes grow, so it is that of the largest fit). What it measures is
why the full-range preset searches a sample (``search.sample_classes``): the search fits each
of its 94 pairs again for every cross-validation fold, null dataset, model-based baseline and
the extrapolation split, and each fit grows with the rows.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import polars as pl

from machinery.params import load_params
from models.features import model_frame
from models.findings import TARGET, with_target
from models.gbm import GbmModel
from models.search import pairs, search_targets
from models.splits import sample_classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=["log_bsd_ratio:arithmetic"],
                        help="target:group pairs of the search")
    parser.add_argument("--classes", nargs="+", type=int, default=[40_000, 400_000, 0],
                        help="isogeny classes sampled; 0: every class")
    args = parser.parse_args()
    params = load_params()
    search = params.search
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    frame = model_frame(pl.read_parquet(params.paths.features), pl.read_parquet(params.paths.bsd))
    found = {(p.target.name, p.group): (p.target, p.columns) for p in
             pairs(search_targets(search, params.features), search.groups, groups, frame.columns)}
    threads = search.workers * search.threads
    print(f"{len(frame):,} curves, {frame['isogeny_class'].n_unique():,} classes; "
          f"LightGBM {threads} threads, {search.gbm.n_estimators} rounds")
    print(f"{'pair':28s} {'classes':>9s} {'curves':>10s} {'fit (s)':>8s} {'curves/s':>9s} "
          f"{'peak RSS':>9s}")
    for pair in args.pairs:
        target, columns = found[tuple(pair.split(":"))]
        for size in args.classes:
            rows = frame
            if size:
                chosen = sample_classes(frame["isogeny_class"], size, search.seed)
                rows = frame.filter(pl.col("isogeny_class").is_in(chosen.implode()))
            data = with_target(rows, target)
            model = GbmModel(target.task, columns, seed=search.seed, threads=threads,
                             **(search.gbm.model_dump() | {"early_stopping_rounds": 0}))
            started = time.perf_counter()
            model.fit(data, TARGET)
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            print(f"{pair:28s} {size or rows['isogeny_class'].n_unique():>9,} {len(data):>10,} "
                  f"{seconds:8.1f} {len(data) / seconds:9,.0f} {peak:7.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
