"""Benchmark: how often the findings engine flags a target that carries no signal.

    python -m benchmarks.bench_null_rate --runs 100 --conductor-max 1000

Each run draws a fresh pure-noise target (one value per isogeny class, so the class structure
is that of a real BSD quantity; alternately continuous and binary) and asks the engine whether
it is predictable from one feature group (alternately ap, weierstrass, mestre_nagao), with the
search settings of params.yaml. Every run is decided on its own (Benjamini–Hochberg over one
test is the raw level), so the share of `flagged` verdicts must not exceed `search.fdr`.
Prints the share with its 95% Clopper–Pearson interval.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import binomtest

from arithmetic.bsd import bsd_table
from arithmetic.elldata import read_curves
from arithmetic.pari import precision_bits, start_pari
from arithmetic.traces import primes_up_to
from models.delaunay import ShaModel
from models.features import model_frame, resolve_groups
from models.findings import SearchSettings, decide, evaluate
from models.gbm import GbmModel
from models.search import baselines_for, null_for, pair_known
from models.targets import Target
from pipeline.features import compute_features
from pipeline.params import load_params

GROUPS = ["ap", "weierstrass", "mestre_nagao"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--conductor-max", type=int, default=1000)
    args = parser.parse_args()
    params = load_params()
    search, section = params.search, params.features.model_copy(update={"workers": 1})
    curves = read_curves(1, args.conductor_max)
    bsd = bsd_table(start_pari(params.bsd.realprecision, params.bsd.pari_stack_mb), curves,
                    params.bsd.sha_tolerance, precision_bits(params.bsd.realprecision),
                    params.bsd.lfunction_bits)
    with tempfile.TemporaryDirectory() as scratch:
        features = compute_features(curves, bsd, section, Path(scratch) / "chunks")
    frame = model_frame(features, bsd)
    groups = resolve_groups(features.columns, section.groups)
    classes = frame["isogeny_class"].rank("dense").cast(pl.Int64).to_numpy() - 1
    settings = SearchSettings(search.folds, search.extrapolation_share, search.bootstrap,
                              search.null_datasets, search.null_quantile, search.fdr, search.seed,
                              search.strata)
    sha = ShaModel([2], 100, 2, np.random.default_rng(0))
    verdicts, start = [], time.perf_counter()
    for run in range(args.runs):
        rng = np.random.default_rng([search.seed, run])
        noise = rng.normal(size=classes.max() + 1)[classes]
        binary = run % 2 == 1
        data = frame.with_columns(
            noise=pl.Series((noise > 0).astype(np.int64) if binary else noise))
        target = Target("noise", "classification" if binary else "regression", pl.col("noise"),
                        (), ("noise",))
        group = GROUPS[run % len(GROUPS)]
        columns = groups[group]
        known = pair_known([group], groups, target.excluded, data.columns)
        null = null_for(target, strata=params.nulls.conductor_strata, high_rank_rate=0.0,
                        primes=primes_up_to(section.primes_max),
                        bounds=section.mestre_nagao_bounds, sha_model=lambda: sha)
        result = evaluate(data, target, group, columns,
                          lambda cols, task: GbmModel(task, cols, seed=search.seed, threads=2,
                                                      **search.gbm.model_dump()),
                          baselines_for(target, columns, groups, search.seed, 2,
                                        search.gbm.model_dump(), known, data.columns),
                          null, settings, known)
        [decided] = decide([result], search.fdr)
        verdicts.append(decided["verdict"])
        print(f"run {run + 1}: {target.task} noise ~ {group}: {decided['verdict']} "
              f"(p = {decided['p_value']:.3g})", flush=True)
    flagged = verdicts.count("flagged")
    ci = binomtest(flagged, len(verdicts)).proportion_ci(0.95)
    print(f"{len(curves)} curves (N < {args.conductor_max}), {args.runs} runs in "
          f"{time.perf_counter() - start:.0f} s: flagged {flagged}/{len(verdicts)} = "
          f"{flagged / len(verdicts):.3f} (95% CI {ci.low:.3f}-{ci.high:.3f}); nominal "
          f"level {search.fdr}")
    for verdict in sorted(set(verdicts)):
        print(f"  {verdict}: {verdicts.count(verdict)}")


if __name__ == "__main__":
    main()
