"""Benchmark: how often the findings engine flags a target that carries no signal.

    python -m benchmarks.bench_null_rate [--runs 100] [--conductor-max 10000]

Run after `dvc repro features`. Each run draws a fresh pure-noise target (one value per
isogeny class, so the class structure is that of a real BSD quantity; alternately continuous
and binary) and asks the engine whether it is predictable from one search group (ap,
weierstrass, mestre_nagao, conductor in turn), on the default run's model frame below
``--conductor-max``, as the train stage evaluates a pair: its known quantities, the laws that
apply, its null model, every test run (:func:`models.search.evaluate_alone`). Every run is
decided on its own (Benjamini–Hochberg over one test is the raw level), so the share of
`flagged` verdicts must not exceed `search.fdr`. Prints the share with its 95%
Clopper–Pearson interval and the count of every verdict.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import binomtest

from machinery.params import load_params
from models.findings import with_families
from models.search import evaluate_alone
from models.splits import class_index
from models.targets import Target
from pipeline.frames import search_frame

GROUPS = ["ap", "weierstrass", "mestre_nagao", "conductor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--conductor-max", type=int, default=10_000)
    args = parser.parse_args()
    params = load_params()
    search = params.search
    frame = with_families(search_frame(params)).filter(pl.col("conductor") < args.conductor_max)
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    classes = class_index(frame)
    verdicts, start = [], time.perf_counter()
    for run in range(args.runs):
        rng = np.random.default_rng([search.seed, run])
        noise = rng.normal(size=classes.max() + 1)[classes]
        binary = run % 2 == 1
        data = frame.with_columns(
            noise=pl.Series((noise > 0).astype(np.int64) if binary else noise))
        target = Target("noise", "classification" if binary else "regression", pl.col("noise"),
                        (), ("noise",))
        group = GROUPS[run // 2 % len(GROUPS)]
        decided = evaluate_alone(data, target, group, groups, search, params.nulls,
                                 params.features, search.workers * search.threads)
        verdicts.append(decided["verdict"])
        print(f"run {run + 1}: {target.task} noise ~ {group}: {decided['verdict']} "
              f"(p = {decided['p_value']:.3g})", flush=True)
    flagged = verdicts.count("flagged")
    ci = binomtest(flagged, len(verdicts)).proportion_ci(0.95)
    print(f"{len(frame):,} curves (N < {args.conductor_max}), {args.runs} runs in "
          f"{time.perf_counter() - start:.0f} s: flagged {flagged}/{len(verdicts)} = "
          f"{flagged / len(verdicts):.3f} (95% CI {ci.low:.3f}-{ci.high:.3f}); nominal "
          f"level {search.fdr}")
    for verdict in sorted(set(verdicts)):
        print(f"  {verdict}: {verdicts.count(verdict)}")


if __name__ == "__main__":
    main()
