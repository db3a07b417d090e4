"""The report's figures, as PNG bytes (matplotlib, no display needed)."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from scipy import stats  # noqa: E402

from models.verdicts import KINDS, kind_of  # noqa: E402
from reporting.words import METRIC_WORDS  # noqa: E402

#: The Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"), distinguishable under
#: the common colour-vision deficiencies: data series take these colours in this order.
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000"]
#: Null models and reference lines: lighter than any data series.
NULL_COLOUR = "#B0B0B0"
def kind_colour(verdict: str) -> str:
    """The colour of a verdict: its kind's (:data:`models.verdicts.KINDS`)."""
    return KINDS[kind_of(verdict)].colour


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _metric(row: dict) -> str:
    return METRIC_WORDS.get(row["metric"], row["metric"])


def null_distribution(row: dict) -> bytes:
    """The model's first-fold score against its scores on the null datasets, with the best
    baseline's cross-validated score for reference."""
    figure, axis = plt.subplots(figsize=(5.5, 2.2))
    nulls = row["null_scores"]
    axis.scatter(nulls, [0] * len(nulls), marker="|", s=400, color=NULL_COLOUR,
                 label=f"{row['null_model']} null datasets ({len(nulls)})")
    axis.axvline(row["null_quantile"], color=NULL_COLOUR, linestyle=":",
                 label=f"null {row['null_level']:.0%} quantile")
    axis.axvline(row["score_first_fold"], color=OKABE_ITO[1], linewidth=2, label="model (fold 1)")
    axis.axvline(row["baseline_score"], color=OKABE_ITO[0], linestyle="--",
                 label=f"{row['best_baseline']} (all folds)")
    axis.set_yticks([])
    axis.set_xlabel(_metric(row))
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)
    return _png(figure)


def conductor_strata(row: dict) -> bytes:
    """Model and best-baseline scores per conductor stratum (out-of-fold predictions)."""
    strata = pl.DataFrame(row["strata"])
    middle = (strata["conductor_low"] * strata["conductor_high"]).sqrt()
    figure, axis = plt.subplots(figsize=(5.5, 2.6))
    axis.plot(middle, strata["model"], "o-", color=OKABE_ITO[1], label="model")
    axis.plot(middle, strata["baseline"], "s--", color=OKABE_ITO[0], label=row["best_baseline"])
    axis.set_xscale("log")
    axis.set_xlabel("conductor (geometric middle of the stratum)")
    axis.set_ylabel(_metric(row))
    axis.legend(fontsize=7, frameon=False)
    return _png(figure)


def top_features(importances: pl.DataFrame, count: int) -> bytes:
    """The features with the largest mean |SHAP| (LightGBM ``pred_contrib``)."""
    top = importances.sort("mean_abs_shap", descending=True).head(count).reverse()
    figure, axis = plt.subplots(figsize=(5.5, 0.25 * len(top) + 0.8))
    axis.barh(top["feature"], top["mean_abs_shap"], color=OKABE_ITO[0])
    axis.set_xlabel("mean |SHAP| (model output units)")
    axis.tick_params(axis="y", labelsize=7)
    return _png(figure)


def score_overview(findings: pl.DataFrame) -> bytes:
    """Every pair: model score against best-baseline score, coloured and shaped by the kind
    of its verdict (:data:`models.verdicts.KINDS`)."""
    kinds = findings["verdict"].map_elements(kind_of, return_dtype=pl.String)
    findings = findings.with_columns(kind=kinds)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=False)
    for axis, metric in zip(axes, ("mcc", "r2")):
        rows = findings.filter(pl.col("metric") == metric)
        for kind in KINDS.values():
            part = rows.filter(pl.col("kind") == kind.name)
            if len(part):
                axis.scatter(part["baseline_score"], part["score"], s=22, label=kind.name,
                             color=kind.colour, marker=kind.marker)
        axis.plot([-0.1, 1], [-0.1, 1], color=NULL_COLOUR, linewidth=0.8)
        axis.set_xlabel(f"best baseline {METRIC_WORDS[metric]}")
        axis.set_ylabel(f"model {METRIC_WORDS[metric]}")
        axis.set_title("classification targets" if metric == "mcc" else "regression targets",
                       fontsize=9)
    handles = {label: handle for axis in axes
               for handle, label in zip(*axis.get_legend_handles_labels())}
    handles = {k: handles[k] for k in KINDS if k in handles}
    figure.legend(handles.values(), handles.keys(), loc="lower center", ncol=5, fontsize=7,
                  frameon=False, bbox_to_anchor=(0.5, -0.2))
    return _png(figure)


def persistence_diagram(diagram, title: str) -> bytes:
    """A persistence diagram: each bar (birth, death), coloured by homology dimension."""
    figure, axis = plt.subplots(figsize=(3.6, 3.4))
    top = float(diagram[:, 1].max()) if len(diagram) else 1.0
    for dimension, colour in zip(range(3), OKABE_ITO[:3]):
        bars = diagram[(diagram[:, 2] == dimension) & (diagram[:, 1] > diagram[:, 0])]
        if len(bars):
            axis.scatter(bars[:, 0], bars[:, 1], s=10, color=colour, label=f"H{dimension}")
    axis.plot([0, top], [0, top], color="#bdc3c7", linewidth=0.8)
    axis.set_xlabel("birth")
    axis.set_ylabel("death")
    axis.set_title(title, fontsize=8)
    axis.legend(fontsize=7, frameon=False)
    return _png(figure)


def distribution_file(quantity: str) -> str:
    """``sha (rank 0)`` -> ``sha.png``: the file name of a quantity's
    :func:`sample_distribution`."""
    return quantity.split()[0] + ".png"


def sample_distribution(shares: pl.DataFrame, quantity: str) -> bytes:
    """Share of each value of ``quantity`` in each sample, bars side by side (the rows of
    :func:`models.bias.distributions` for one quantity)."""
    values = shares["value"].unique(maintain_order=True).to_list()
    samples = shares["sample"].unique(maintain_order=True).to_list()
    figure, axis = plt.subplots(figsize=(5.5, 2.6))
    width = 0.8 / max(len(samples), 1)
    for index, sample in enumerate(samples):
        rows = dict(shares.filter(pl.col("sample") == sample).select("value", "share").iter_rows())
        axis.bar([i + index * width for i in range(len(values))],
                 [rows.get(v, 0.0) for v in values], width, label=sample,
                 color=OKABE_ITO[index % len(OKABE_ITO)])
    axis.set_xticks([i + width * (len(samples) - 1) / 2 for i in range(len(values))], values)
    axis.set_xlabel(quantity)
    axis.set_ylabel("share of curves")
    axis.legend(fontsize=7, frameon=False)
    return _png(figure)


def murmuration(averages: pl.DataFrame, axis: str, title: str) -> bytes:
    """Average a_p against p (or p/N) per group, with 95% bands; the Sato–Tate null in grey."""
    figure, ax = plt.subplots(figsize=(7, 3))
    part = averages.filter(pl.col("axis") == axis)
    colours = {"rank 0": OKABE_ITO[0], "rank 1": OKABE_ITO[1], "w = +1": OKABE_ITO[2],
               "w = -1": OKABE_ITO[3]}
    for group, rows in part.group_by("group", maintain_order=True):
        name = group[0]
        colour = colours.get(name, NULL_COLOUR)
        ax.plot(rows["x"], rows["mean"], color=colour, linewidth=1, label=name)
        ax.fill_between(rows["x"], rows["low"], rows["high"], color=colour, alpha=0.2,
                        linewidth=0)
    ax.axhline(0, color="#7f8c8d", linewidth=0.6)
    ax.set_xlabel("p (mean of a bin of consecutive primes)" if axis == "p" else "p / N")
    ax.set_ylabel("average a_p")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=3)
    return _png(figure)


def beta_fit_figure(log_ratio, conductor_window, fits: pl.DataFrame) -> bytes:
    """Histogram of the rescaled log BSD ratio per conductor window with its Beta fit."""
    figure, ax = plt.subplots(figsize=(6, 3))
    grid = np.linspace(0.001, 0.999, 300)
    for index, row in enumerate(fits.iter_rows(named=True)):
        colour = OKABE_ITO[index % len(OKABE_ITO)]
        scaled = (log_ratio[conductor_window == index] - row["scale_low"]) / (
            (row["scale_high"] - row["scale_low"]) or 1.0)
        ax.hist(scaled, bins=40, range=(0, 1), density=True, histtype="step", color=colour,
                label=f"N {row['conductor_low']}–{row['conductor_high']}")
        ax.plot(grid, stats.beta.pdf(grid, row["a"], row["b"]), color=colour, linestyle=":")
    ax.set_xlabel("log BSD ratio, rescaled to (0, 1)")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, frameon=False)
    return _png(figure)


def murmuration_splits(averages: pl.DataFrame, axis: str, title: str,
                       prime_max: float | None = None, tested_below: float | None = None) -> bytes:
    """One panel per split (column ``split``): the average a_p of each group (``rank r, <group>``)
    against p (up to ``prime_max``) or p/N, with 95% bands; rank 0 in blues, rank 1 in reds, the
    second group of each split dashed; a dotted line at ``tested_below`` (the test's p bound)."""
    part = averages.filter(pl.col("axis") == axis)
    if prime_max is not None:
        part = part.filter(pl.col("x") <= prime_max)
    splits = part["split"].unique(maintain_order=True).to_list()
    figure, axes = plt.subplots(len(splits), 1, figsize=(7, 2.4 * len(splits)), sharex=True,
                                squeeze=False)
    colours = {"rank 0": ("#2980b9", "#1abc9c"), "rank 1": ("#c0392b", "#e67e22")}
    for ax, split in zip(axes[:, 0], splits):
        rows = part.filter(pl.col("split") == split)
        groups = rows["group"].unique(maintain_order=True).sort().to_list()
        for group in groups:
            rank, _, name = group.partition(", ")
            second = " > " in name           # every split's second group reads "... > ..."
            colour = colours.get(rank, ("#7f8c8d", "#95a5a6"))[int(second)]
            line = rows.filter(pl.col("group") == group)
            ax.plot(line["x"], line["mean"], color=colour, linewidth=1,
                    linestyle="--" if second else "-", label=group)
            ax.fill_between(line["x"], line["low"], line["high"], color=colour, alpha=0.15,
                            linewidth=0)
        ax.axhline(0, color="#7f8c8d", linewidth=0.6)
        if tested_below is not None:
            ax.axvline(tested_below, color="#7f8c8d", linewidth=0.8, linestyle=":")
        ax.set_ylabel("average a_p")
        ax.set_title(f"{title} {split.replace('_', ' ')}", fontsize=9)
        ax.legend(fontsize=7, frameon=False, ncol=2)
    axes[-1, 0].set_xlabel("p (mean of a bin of consecutive primes)" if axis == "p" else "p / N")
    return _png(figure)
