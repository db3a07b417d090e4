"""Planted signals: the engine's power against the share of variance a true signal explains.

    python -m benchmarks.bench_power [--shares 0.01 0.02 0.05 0.1 0.2 0.5] [--replicates 3]
                                     [--noise-runs 20] [--figure benchmarks/out/power.png]

Run after `dvc repro features` (it reads the default run's model frame). Each planted target is
y = √s·z(signal) + √(1 − s)·ε, where z(signal) is a standardised function of one feature group
that no law of models/laws.py reads and ε is Gaussian noise drawn once per twist family (so the
noise has the family structure of a real arithmetic quantity): its true R² is s. A
classification target is the sign of y. Signals:

- ``ap``: a_61·a_67/(4√(61·67)), a product of two normalised traces (the Mestre–Nagao sums, which
  the a_p group knows, are linear in the a_p and miss it);
- ``conductor``: log p_max / log N, the share of the conductor's logarithm in its largest prime
  (the conductor group derives nothing beyond its columns: its only baseline is the constant);
- ``mestre_nagao``: S(10)·S(100), the product of the first Mestre–Nagao sums to B = 10 and
  B = 100 (each sum is a law's input; their product is not).

No signal is planted in the equation: the reduced minimal model is a function of (c4, c6), from
which the known quantities of the weierstrass group derive Δ, j, the local data and the a_p, so
any function of its columns is in principle known mathematics (an earlier plant,
(log H − log H(j))², was rightly "explained by known quantities").

Every planted pair is evaluated as the train stage evaluates a pair (its group's known
quantities, the laws that apply, a permutation null), with every test run, and decided on its
own: Benjamini–Hochberg over one test is the raw level, and the bias checks, which need the
reference samples, are not part of it. Pure noise (s = 0) gives the false-flag rate. Prints one
line per run, then the flag rate per (group, task, share) with a 95% Clopper–Pearson interval,
and draws the power curves.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from scipy.stats import binomtest  # noqa: E402

from machinery.params import load_params  # noqa: E402
from models.findings import FAMILY, with_families  # noqa: E402
from models.search import evaluate_alone  # noqa: E402
from models.targets import Target  # noqa: E402
from pipeline.frames import search_frame  # noqa: E402

SIGNALS = {
    "ap": pl.col("ap_norm_61") * pl.col("ap_norm_67"),
    "conductor": pl.col("log_largest_prime") / pl.col("log_conductor").clip(lower_bound=1e-9),
    "mestre_nagao": pl.col("mn_s1_10") * pl.col("mn_s1_100"),
}


def standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / values.std()


def planted(frame: pl.DataFrame, group: str, share: float, seed: int,
            task: str) -> pl.DataFrame:
    """``frame`` with the column ``planted``: the group's signal at true R² ``share`` plus
    noise shared by each twist family."""
    signal = standardised(frame.select(SIGNALS[group]).to_series().to_numpy())
    families = frame[FAMILY].to_numpy()
    noise = np.random.default_rng(seed).normal(size=families.max() + 1)[families]
    y = np.sqrt(share) * signal + np.sqrt(1 - share) * standardised(noise)
    return frame.with_columns(planted=pl.Series((y > 0).astype(np.int64)
                                                if task == "classification" else y))


def run(params, frame, groups, group: str, task: str, share: float, seed: int,
        gbm: dict | None = None) -> dict:
    """One planted pair, evaluated with every test and decided on its own
    (:func:`models.search.evaluate_alone`); ``gbm``: settings that replace
    ``params.search.gbm``."""
    search = params.search
    if gbm:
        search = search.model_copy(update={"gbm": search.gbm.model_copy(update=gbm)})
    target = Target("planted", task, pl.col("planted"), (), ("planted",))
    return evaluate_alone(planted(frame, group, share, seed, task), target, group, groups,
                          search, params.nulls, params.features, search.workers * search.threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=float, nargs="+",
                        default=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--noise-runs", type=int, default=20)
    parser.add_argument("--figure", type=Path, default=Path("benchmarks/out/power.png"))
    args = parser.parse_args()
    params = load_params()
    frame = with_families(search_frame(params))
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    rows, started = [], time.perf_counter()
    plan = [(g, t, s, r) for g in SIGNALS for t in ("regression", "classification")
            for s in args.shares for r in range(args.replicates)]
    plan += [(list(SIGNALS)[r % 2], ("regression", "classification")[r // 2 % 2], 0.0, r)
             for r in range(args.noise_runs)]
    for group, task, share, replicate in plan:
        clock = time.perf_counter()
        r = run(params, frame, groups, group, task, share, 1000 + replicate)
        rows.append({"group": group, "task": task, "share": share, "replicate": replicate,
                     "verdict": r["verdict"], "added_value": r["added_value"],
                     "detectable": r["detectable_added_value"],
                     "seconds": time.perf_counter() - clock})
        print(f"{group} {task} R² {share}: {r['verdict']} (added {r['added_value']:+.4f} "
              f"[{r['added_value_low']:.4f}, {r['added_value_high']:.4f}], "
              f"{time.perf_counter() - clock:.0f} s)", flush=True)
    table = pl.DataFrame(rows)
    print(f"\n{len(frame):,} curves, {len(rows)} runs in {time.perf_counter() - started:.0f} s")
    print("| group | task | true R² | flagged | rate [95%] | other verdicts |")
    for (group, task, share), part in table.group_by("group", "task", "share",
                                                     maintain_order=True):
        flagged = int((part["verdict"] == "flagged").sum())
        ci = binomtest(flagged, len(part)).proportion_ci(0.95)
        others = ", ".join(sorted(set(part["verdict"]) - {"flagged"})) or "—"
        print(f"| {group} | {task} | {share} | {flagged}/{len(part)} | "
              f"{flagged / len(part):.2f} [{ci.low:.2f}, {ci.high:.2f}] | {others} |")
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(6, 4))
    signal = table.filter(pl.col("share") > 0)
    for (group, task), part in signal.group_by("group", "task", maintain_order=True):
        rate = part.group_by("share").agg((pl.col("verdict") == "flagged").mean()).sort("share")
        axis.plot(rate["share"], rate["verdict"], marker="o", label=f"{task} ~ {group}")
    noise = table.filter(pl.col("share") == 0)
    if len(noise):
        false = int((noise["verdict"] == "flagged").sum())
        axis.set_title(f"pure noise flagged {false}/{len(noise)}; {len(frame):,} curves",
                       fontsize=9)
    axis.set_xscale("log")
    axis.set_xlabel("true R² of the planted signal")
    axis.set_ylabel("share flagged")
    axis.axhline(0.9, color="grey", linestyle=":")
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.figure, dpi=120)
    print(f"power curves -> {args.figure}")


if __name__ == "__main__":
    main()
