"""The train stage as a whole, cold, at a git revision against another, on the same inputs.

Each ``--rev`` is checked out into a scratch worktree (``.venv`` linked in), given this
checkout's ``params.yaml`` and its stage inputs (``data/``, the train cache left out, so every
pair is computed), and runs ``python -m pipeline.train``; its wall time, the pairs' summed
``seconds`` and the evaluations are kept in ``--out``. Revisions run one after another in one
invocation, so the ratios compare runs on the same machine minutes apart; a revision already
measured (its files in ``--out``) is not rerun unless ``--again``. Then every later revision is
compared with the first: wall-time ratio, per-pair-sum ratio, the largest score differences and
the verdicts (:func:`models.verdicts.decide` at ``search.fdr``, without the bias checks).

    python -m benchmarks.bench_train --rev c5f9c76 --rev HEAD
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from machinery.code_digest import PROJECT
from machinery.params import load_params

#: Columns whose values must agree between revisions, within ``--tolerance``.
SCORES = ["score", "baseline_score", "known_gbm_score", "known_plus_features_score",
          "added_value", "extrapolation_score"]


def commit(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=PROJECT, check=True,
                          capture_output=True, text=True).stdout.strip()


def scratch_worktree(rev: str, prefix: str, params: Path | None = None) -> Path:
    """``rev`` checked out in ``/tmp/<prefix>_<rev>`` with ``.venv`` linked in and this
    checkout's stage outputs, ``data/``, ``metrics/`` and ``reports/`` (the train cache and
    resume state left out, so stages start cold); ``params``: a params.yaml copied over the
    revision's own."""
    scratch = Path("/tmp") / f"{prefix}_{rev}"
    if scratch.exists():
        remove_worktree(scratch)
    subprocess.run(["git", "worktree", "add", "--detach", str(scratch), rev], cwd=PROJECT,
                   check=True, capture_output=True)
    (scratch / ".venv").symlink_to(PROJECT / ".venv")
    if params is not None:
        shutil.copy(params, scratch / "params.yaml")
    for outputs in ("data", "metrics", "reports"):
        if (PROJECT / outputs).is_dir():
            shutil.copytree(PROJECT / outputs, scratch / outputs, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("train.cache", "*.chunks"))
    return scratch


def remove_worktree(scratch: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(scratch)], cwd=PROJECT)


def run_revision(rev: str, out: Path) -> dict:
    """Cold train at ``rev`` in a scratch worktree; its timing, evaluations in ``out``."""
    scratch = scratch_worktree(rev, "bench_train", PROJECT / "params.yaml")
    try:
        started = time.perf_counter()
        subprocess.run([str(PROJECT / ".venv/bin/python"), "-m", "pipeline.train"], cwd=scratch,
                       check=True, env={**os.environ, "PYTHONPATH": str(scratch)})
        wall = time.perf_counter() - started
        evaluations = pl.read_parquet(scratch / load_params().paths.evaluations)
    finally:
        remove_worktree(scratch)
    evaluations.write_parquet(out / f"train_{rev}.parquet")
    timing = {"rev": rev, "wall_seconds": wall, "pairs": len(evaluations),
              "pair_seconds": float(evaluations["seconds"].sum())}
    (out / f"train_{rev}.json").write_text(json.dumps(timing))
    return timing


def verdicts(evaluations: pl.DataFrame, fdr: float) -> dict[tuple[str, str], str]:
    from models.verdicts import decide
    return {(r["target"], r["group"]): r["verdict"] for r in decide(evaluations.to_dicts(), fdr)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", action="append", required=True)
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks/out")
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--again", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    revs = [commit(rev) for rev in args.rev]
    timings = {}
    for rev in revs:
        saved = args.out / f"train_{rev}.json"
        timings[rev] = (json.loads(saved.read_text()) if saved.exists() and not args.again
                        else run_revision(rev, args.out))
        print(json.dumps(timings[rev]), flush=True)
    fdr = load_params().search.fdr
    first = pl.read_parquet(args.out / f"train_{revs[0]}.parquet")
    first_verdicts = verdicts(first, fdr)
    for rev in revs[1:]:
        other = pl.read_parquet(args.out / f"train_{rev}.parquet")
        joined = first.join(other, on=["target", "group"], suffix="_new")
        # null where either run did not compute it (a screened pair has no extrapolation; a
        # column is all null, of dtype null, where every pair is screened)
        differences = {c: (joined[c].cast(pl.Float64) - joined[f"{c}_new"].cast(pl.Float64))
                       .abs().max() or 0.0 for c in SCORES}
        other_verdicts = verdicts(other, fdr)
        changed = {k: (v, other_verdicts.get(k)) for k, v in first_verdicts.items()
                   if other_verdicts.get(k) != v}
        print(f"{revs[0]} -> {rev}: wall {timings[revs[0]]['wall_seconds']:.1f} s -> "
              f"{timings[rev]['wall_seconds']:.1f} s "
              f"({timings[revs[0]]['wall_seconds'] / timings[rev]['wall_seconds']:.2f}x); "
              f"pair sum {timings[revs[0]]['pair_seconds']:.1f} s -> "
              f"{timings[rev]['pair_seconds']:.1f} s "
              f"({timings[revs[0]]['pair_seconds'] / timings[rev]['pair_seconds']:.2f}x)")
        print(f"  largest score differences: {json.dumps(differences)}")
        print(f"  pairs {len(joined)} of {len(first)}; verdicts changed: {changed or 'none'}")
        if max(differences.values()) > args.tolerance or changed:
            sys.exit(f"{rev} differs from {revs[0]} beyond {args.tolerance} or in a verdict")


if __name__ == "__main__":
    main()
