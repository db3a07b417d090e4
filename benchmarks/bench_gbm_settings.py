"""The GBM's settings against the power they buy: planted signals of known strength, each
evaluated as the train stage evaluates a pair, under several LightGBM settings side by side.

    python -m benchmarks.bench_gbm_settings [--shares 0.05 0.1] [--replicates 2]
                                            [--signals ap conductor mestre_nagao]

Run after `dvc repro features`. The plants are those of :mod:`benchmarks.bench_power` (true
R² = share). For each setting it prints, per run, the added value the engine measured (what
the GBM captured of the planted share) and the verdict; then per setting the share flagged,
the mean captured share of variance (regression) or MCC (classification), the median boosting
rounds, and the seconds against those of the first setting (the current params.yaml) — the
cost ratio the train stage would pay, since every pair's fits are GBM fits of these settings.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

from benchmarks.bench_power import SIGNALS, run
from machinery.params import load_params
from models.findings import with_families
from pipeline.frames import search_frame

#: Candidate settings; the first is replaced by params.yaml's own.
CANDIDATES = {
    "slow, large leaves": {"n_estimators": 1000, "learning_rate": 0.03, "num_leaves": 31,
                           "min_child_samples": 200, "early_stopping_rounds": 100},
    "moderate": {"n_estimators": 400, "learning_rate": 0.1, "num_leaves": 15,
                 "min_child_samples": 200, "early_stopping_rounds": 30},
    "moderate, small leaves": {"n_estimators": 400, "learning_rate": 0.1, "num_leaves": 7,
                               "min_child_samples": 400, "early_stopping_rounds": 30},
    "fast, regularised": {"n_estimators": 200, "learning_rate": 0.2, "num_leaves": 7,
                          "min_child_samples": 400, "early_stopping_rounds": 20},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.1])
    parser.add_argument("--replicates", type=int, default=2)
    parser.add_argument("--signals", nargs="+", default=list(SIGNALS), choices=list(SIGNALS))
    parser.add_argument("--tasks", nargs="+", default=["regression", "classification"])
    parser.add_argument("--settings", nargs="+", default=None,
                        help="names of CANDIDATES to try beside params.yaml's (default: all)")
    args = parser.parse_args()
    params = load_params()
    frame = with_families(search_frame(params))
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    chosen = {"params.yaml": params.search.gbm.model_dump()}
    chosen |= {name: CANDIDATES[name] for name in (args.settings or CANDIDATES)}
    rows = []
    for name, gbm in chosen.items():
        for group in args.signals:
            for task in args.tasks:
                for share in args.shares:
                    for replicate in range(args.replicates):
                        clock = time.perf_counter()
                        r = run(params, frame, groups, group, task, share, 1000 + replicate, gbm)
                        seconds = time.perf_counter() - clock
                        rows.append({"setting": name, "group": group, "task": task,
                                     "share": share, "verdict": r["verdict"],
                                     "added_value": r["added_value"],
                                     "rounds": r["gbm_rounds"], "seconds": seconds})
                        print(f"{name} | {task} ~ {group} R² {share}: {r['verdict']} "
                              f"(added {r['added_value']:+.4f}, {r['gbm_rounds']} rounds, "
                              f"{seconds:.1f} s)", flush=True)
    table = pl.DataFrame(rows)
    first = table.filter(pl.col("setting") == "params.yaml")["seconds"].sum()
    print(f"\n{len(frame):,} curves; shares {args.shares}, {args.replicates} replicates")
    print("| setting | task | flagged | mean added value at each share | median rounds | "
          "seconds | cost vs params.yaml |")
    print("|---|---|---|---|---:|---:|---:|")
    for name in chosen:
        part = table.filter(pl.col("setting") == name)
        for task in args.tasks:
            rows_task = part.filter(pl.col("task") == task)
            captured = rows_task.group_by("share").agg(pl.col("added_value").mean()).sort("share")
            flagged = int((rows_task["verdict"] == "flagged").sum())
            print(f"| {name} | {task} | {flagged}/{len(rows_task)} | "
                  + ", ".join(f"{s}: {v:+.3f}" for s, v in captured.iter_rows())
                  + f" | {int(rows_task['rounds'].median())} | {rows_task['seconds'].sum():.0f} | "
                  f"{part['seconds'].sum() / first:.2f}x |")


if __name__ == "__main__":
    main()
