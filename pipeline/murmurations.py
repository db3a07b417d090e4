"""DVC stage ``murmurations``: the known phenomena the pipeline must rediscover
(:mod:`models.murmurations`).

For each conductor window of ``murmurations.conductor_windows``: a_p for every prime up to
``murmurations.primes_max`` of one curve per isogeny class (PARI ``ellan``, in resumable chunks
over ``murmurations.workers`` processes), averaged by rank (0, 1) and by root number, by prime
and by p/N, with 95% bands, beside the same classes' traces redrawn from the Sato–Tate law.
And the Beta fits of the log BSD ratio per conductor window. And, per window, the split of the
profile by Tamagawa product, Sha and real period within ranks 0 and 1 (Wachs 2026): the mean
shift of a_p over p < ``murmurations.split_primes_max`` between the two groups of each split,
against label permutations within conductor strata and against the Sato–Tate null
(:func:`models.murmurations.split_shift`), over all primes and over the good primes only (the
bad primes' a_p in {0, ±1} are set by the local reduction that also sets c_p); whether the shift
is seen (both p-values below ``murmurations.split_level``) goes to the metrics, the profiles to
the averages table (``split`` = the split's name) and to the figures ``<window>__wachs_split__*``.

Outputs: ``paths.murmurations`` (averages), ``paths.bsd_ratio_fits``,
``paths.murmurations_metrics`` (the sign of each group's average at small p/N; the fits) and the
plots in ``paths.murmurations_figures``.
"""
from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from arithmetic.bsd_ratio import log_bsd_ratio
from arithmetic.pari import process_pari, start_process_pari
from arithmetic.primes import primes_up_to
from arithmetic.traces import small_integers
from machinery.atomic import write_directory, write_json, write_parquet
from machinery.chunks import plan_chunks, run_chunks
from machinery.code_digest import code_digest
from machinery.inputs import require_inputs
from machinery.params import ParamsError, load_params
from machinery.stage import run_stage
from models.murmurations import (SPLITS, beta_fits, conductor_windows, curve_means,
                                 sato_tate_traces, small_ratio_means, split_groups, split_shift,
                                 trace_averages)
from reporting.figures import beta_fit_figure, murmuration, murmuration_splits

#: a_p are exact: PARI's least precision.
REALPRECISION = 19


def traces_chunk(rows: pl.DataFrame, primes: list[int]) -> pl.DataFrame:
    """The L-series coefficients a_p (p in ``primes``) of each row's curve."""
    pari, values = process_pari(), []
    for ainvs in rows["ainvs"].to_list():
        coefficients = small_integers(pari, pari.ellan(pari.ellinit([int(a) for a in ainvs]),
                                                       primes[-1]))
        values.append([coefficients[p - 1] for p in primes])
    return rows.select("label").with_columns(
        traces=pl.Series(values, dtype=pl.List(pl.Int16)))


def window_averages(classes: pl.DataFrame, traces: np.ndarray, primes: list[int], section,
                    rng: np.random.Generator) -> pl.DataFrame:
    """Averages by rank, by root number, and of the Sato–Tate null, for one window."""
    conductor = classes["conductor"].to_numpy()
    settings = (section.prime_bin, section.ratio_bins, section.ratio_max)
    rank = classes["rank"].to_numpy()
    by_rank = trace_averages(traces[rank <= 1], conductor[rank <= 1], primes,
                             np.array([f"rank {r}" for r in rank[rank <= 1]]), *settings)
    sign = np.where(classes["root_number"].to_numpy() > 0, "w = +1", "w = -1")
    by_sign = trace_averages(traces, conductor, primes, sign, *settings)
    null = trace_averages(sato_tate_traces(traces.shape, primes, rng), conductor, primes,
                          np.full(len(conductor), "Sato-Tate null"), *settings)
    return pl.concat([by_rank.with_columns(split=pl.lit("rank")),
                      by_sign.with_columns(split=pl.lit("root number")),
                      null.with_columns(split=pl.lit("null"))])


#: The prime sets of the split test: every p, or the p of good reduction only.
PRIME_SETS = {"all_primes": False, "good_primes": True}


def split_tests(classes: pl.DataFrame, traces: np.ndarray, primes: list[int], section,
                rng: np.random.Generator) -> dict:
    """For ranks 0 and 1 and each split of :data:`models.murmurations.SPLITS`: the mean shift
    test over each prime set, with whether it is seen (both p-values < ``split_level``)."""
    conductor = classes["conductor"].to_numpy()
    rank = classes["rank"].to_numpy()
    means = {name: curve_means(traces, primes, conductor, section.split_primes_max, good)
             for name, good in PRIME_SETS.items()}
    results = {}
    for r in (0, 1):
        inside = rank == r
        for split, (column, groups) in SPLITS.items():
            high = split_groups(classes[column].to_numpy()[inside], split)
            entry = {"groups": list(groups)}
            for name, (m, variance) in means.items():
                test = split_shift(m[inside], variance[inside], high, conductor[inside],
                                   section.split_strata, section.split_permutations, rng)
                test["seen"] = bool(test["p_permutation"] is not None
                                and test["p_permutation"] < section.split_level
                                and test["p_sato_tate"] < section.split_level)
                entry[name] = test
            results.setdefault(f"rank {r}", {})[split] = entry
    return results


def split_averages(classes: pl.DataFrame, traces: np.ndarray, primes: list[int],
                   section) -> pl.DataFrame:
    """The profiles of each split's groups within ranks 0 and 1 (``split`` = its name)."""
    conductor, rank = classes["conductor"].to_numpy(), classes["rank"].to_numpy()
    settings = (section.prime_bin, section.ratio_bins, section.ratio_max)
    parts = []
    for split, (column, groups) in SPLITS.items():
        names = np.full(len(classes), "", dtype=object)
        for r in (0, 1):
            inside = rank == r
            high = split_groups(classes[column].to_numpy()[inside], split)
            names[inside] = np.where(high, f"rank {r}, {groups[1]}", f"rank {r}, {groups[0]}")
        keep = rank <= 1
        parts.append(trace_averages(traces[keep], conductor[keep], primes,
                                    names[keep].astype(str), *settings)
                     .with_columns(split=pl.lit(split)))
    return pl.concat(parts)


def figures(averages: pl.DataFrame, fits: pl.DataFrame, ratios: pl.DataFrame,
            windows: int, split_primes_max: int) -> dict[str, bytes]:
    """Each window's averages by rank and by root number, against p and p/N, the splits within
    rank (against p up to 5 × ``split_primes_max``, the tested range marked, and p/N), and the
    BSD ratio's histograms with their Beta fits."""
    images = {}
    for (low, high), part in averages.group_by("window_low", "window_high", maintain_order=True):
        for split in ("rank", "root number"):
            rows = part.filter(pl.col("split").is_in([split, "null"]))
            for axis, name in (("p", "p"), ("p/N", "ratio")):
                images[f"{low}-{high}__{split.replace(' ', '_')}__{name}.png"] = murmuration(
                    rows, axis, f"{low} ≤ N < {high}: average a_p by {split}")
        splits = part.filter(pl.col("split").is_in(list(SPLITS)))
        if len(splits):
            for axis, name in (("p", "p"), ("p/N", "ratio")):
                images[f"{low}-{high}__wachs_split__{name}.png"] = murmuration_splits(
                    splits, axis, f"{low} ≤ N < {high}: average a_p within rank, split by",
                    prime_max=None if axis == "p/N" else 5 * split_primes_max,
                    tested_below=None if axis == "p/N" else split_primes_max)
    window = conductor_windows(ratios["conductor"].to_numpy(), windows)
    images["bsd_ratio.png"] = beta_fit_figure(ratios["log_bsd_ratio"].to_numpy(), window, fits)
    return images


def window_classes(bsd: pl.DataFrame, windows: list[tuple[int, int]]) -> pl.DataFrame:
    """One curve per isogeny class (the table's first), those with N in a window [low, high)."""
    classes = bsd.unique("isogeny_class", keep="first", maintain_order=True)
    inside = pl.any_horizontal([pl.col("conductor").is_between(low, high, closed="left")
                                for low, high in windows])
    chosen = classes.filter(inside)
    if chosen.is_empty():
        raise ParamsError("murmurations.conductor_windows: no curve of the bsd table lies in them")
    return chosen


def class_traces(chosen: pl.DataFrame, primes: list[int], params) -> np.ndarray:
    """a_p (columns: ``primes``) of the chosen curves (rows, in their order), computed in
    resumable chunks (:func:`traces_chunk`) keyed by the primes and the stage's code."""
    section, paths = params.murmurations, params.paths
    salt = f"primes_max={section.primes_max};" + code_digest("pipeline.murmurations")
    work = chosen.select("label", "isogeny_class", "ainvs")
    chunk_paths = run_chunks(work, plan_chunks(work, "isogeny_class", section.chunk_size, salt),
                             Path(paths.murmurations_chunks),
                             partial(traces_chunk, primes=primes), workers=section.workers,
                             initializer=start_process_pari,
                             initargs=(REALPRECISION, section.pari_stack_mb),
                             desc="murmurations", executor=params.executor)
    return np.array(pl.read_parquet(chunk_paths)["traces"].to_list(), dtype=np.int64)


def window_results(chosen: pl.DataFrame, traces: np.ndarray, primes: list[int],
                   section) -> tuple[pl.DataFrame, dict, dict]:
    """Per conductor window of at least 2 classes, in the order of ``conductor_windows``, each
    drawing from one seeded generator in turn: (the averages of every window, with its bounds;
    its classes and small-p/N means; its split tests)."""
    rng = np.random.default_rng(section.seed)
    parts, summary, split_summary = [], {}, {}
    for low, high in section.conductor_windows:
        rows = (chosen["conductor"] >= low).to_numpy() & (chosen["conductor"] < high).to_numpy()
        if rows.sum() < 2:
            continue
        window = chosen.filter(rows)
        averages = window_averages(window, traces[rows], primes, section, rng)
        splits = split_averages(window, traces[rows], primes, section)
        parts.append(pl.concat([averages, splits]).with_columns(window_low=pl.lit(low),
                                                                window_high=pl.lit(high)))
        summary[f"{low}-{high}"] = {"classes": int(rows.sum()), "small_ratio_means":
                                    small_ratio_means(averages, section.small_ratio)}
        split_summary[f"{low}-{high}"] = split_tests(window, traces[rows], primes, section, rng)
    return pl.concat(parts), summary, split_summary


def bsd_ratio_fits(bsd: pl.DataFrame, windows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(every curve's conductor and log BSD ratio, :func:`arithmetic.bsd_ratio.log_bsd_ratio`;
    the Beta fits of that ratio per equal-count conductor window, :func:`beta_fits`)."""
    ratios = bsd.select("conductor", log_bsd_ratio=log_bsd_ratio())
    fits = beta_fits(ratios["log_bsd_ratio"].to_numpy(), ratios["conductor"].to_numpy(),
                     windows)
    return ratios, fits


def seen_tests(split_summary: dict) -> list[str]:
    """The split tests that saw the shift, as ``<window> <rank> <split> (<prime set>)``."""
    return [f"{w} {r} {split} ({name})" for w, ranks in split_summary.items()
            for r, splits in ranks.items() for split, entry in splits.items()
            for name in PRIME_SETS if entry[name]["seen"]]


def metrics(section, summary: dict, fits: pl.DataFrame, split_summary: dict,
            seen: list[str]) -> dict:
    """The stage's metrics: the signs at small p/N per window, the Beta fits, and the split
    tests with the statement they check and how their p-values are computed."""
    return {"small_ratio": section.small_ratio, "windows": summary,
            "bsd_ratio_beta": fits.select("conductor_low", "conductor_high", "a", "b", "ks")
            .to_dicts(),
            "wachs_split": {
                "statement": "within each rank, the mean of a_p over p < "
                             f"{section.split_primes_max} differs between the curves split "
                             "by Tamagawa product (c = 1 / c > 1), Sha (1 / > 1) and real "
                             "period (at its median), p < 0.001 against null models "
                             "(Wachs 2026, arXiv 2603.04604)",
                "method": "D = difference of the groups' mean per-curve average of a_p; "
                          "p_permutation: Monte Carlo, two-sided, (1 + #{|D*| >= |D|}) / "
                          f"(1 + {section.split_permutations}) over permutations of the "
                          f"groups within {section.split_strata} equal-count conductor "
                          "strata; p_sato_tate: two-sided normal tail of D over its "
                          "standard deviation when the a_p are independent with mean 0 "
                          "and variance p",
                "primes_max": section.split_primes_max, "level": section.split_level,
                "seen": bool(seen), "seen_in": seen, "windows": split_summary}}


def summary_line(chosen: pl.DataFrame, summary: dict, seen: list[str], section,
                 output: str) -> str:
    """What the stage prints when done: classes, windows, the small-p/N means, the splits."""
    return (f"murmurations: {len(chosen)} classes in {len(summary)} windows, primes <= "
            f"{section.primes_max}; mean a_p at p/N <= {section.small_ratio}: "
            + "; ".join(f"{w}: " + ", ".join(f"{g} {v:+.2f}"
                                             for g, v in s["small_ratio_means"].items())
                        for w, s in summary.items()) + f"; split shift at p < "
            f"{section.split_primes_max} seen in {len(seen)} tests -> {output}")


def main() -> None:
    params = load_params()
    require_inputs("murmurations", params.paths, "bsd")
    section, paths = params.murmurations, params.paths
    primes = primes_up_to(section.primes_max)
    bsd = pl.read_parquet(paths.bsd)
    chosen = window_classes(bsd, section.conductor_windows)
    traces = class_traces(chosen, primes, params)
    averages, summary, split_summary = window_results(chosen, traces, primes, section)
    ratios, fits = bsd_ratio_fits(bsd, section.beta_windows)
    seen = seen_tests(split_summary)
    write_parquet(averages, paths.murmurations)
    write_parquet(fits, paths.bsd_ratio_fits)
    write_directory(figures(averages, fits, ratios, section.beta_windows,
                            section.split_primes_max),
                    paths.murmurations_figures)
    write_json(metrics(section, summary, fits, split_summary, seen), paths.murmurations_metrics)
    shutil.rmtree(paths.murmurations_chunks)
    print(summary_line(chosen, summary, seen, section, paths.murmurations), file=sys.stderr)

if __name__ == "__main__":
    run_stage("murmurations", main, (ValueError,))
