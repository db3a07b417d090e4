"""DVC stage ``murmurations``: the known phenomena the pipeline must rediscover
(:mod:`models.murmurations`).

For each conductor window of ``murmurations.conductor_windows``: a_p for every prime up to
``murmurations.primes_max`` of one curve per isogeny class (PARI ``ellan``, in resumable chunks
over ``murmurations.workers`` processes), averaged by rank (0, 1) and by root number, by prime
and by p/N, with 95% bands, beside the same classes' traces redrawn from the Sato–Tate law.
And the Beta fits of the log BSD ratio per conductor window.

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

from arithmetic.pari import process_pari, start_process_pari
from arithmetic.traces import primes_up_to
from models.murmurations import (beta_fits, conductor_windows, sato_tate_traces,
                                 small_ratio_means, trace_averages)
from pipeline.atomic import write_directory, write_json, write_parquet
from pipeline.chunks import plan_chunks, run_chunks
from pipeline.code_digest import code_digest
from pipeline.inputs import require_inputs
from pipeline.params import ParamsError, load_params
from reporting.figures import beta_fit_figure, murmuration

#: a_p are exact: PARI's least precision.
REALPRECISION = 19


def traces_chunk(rows: pl.DataFrame, primes: list[int]) -> pl.DataFrame:
    """The L-series coefficients a_p (p in ``primes``) of each row's curve."""
    pari, values = process_pari(), []
    for ainvs in rows["ainvs"].to_list():
        coefficients = pari.ellan(pari.ellinit([int(a) for a in ainvs]), primes[-1])
        values.append([int(coefficients[p - 1]) for p in primes])
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


def figures(averages: pl.DataFrame, fits: pl.DataFrame, ratios: pl.DataFrame,
            windows: int) -> dict[str, bytes]:
    """Each window's averages by rank and by root number, against p and p/N, and the BSD
    ratio's histograms with their Beta fits."""
    images = {}
    for (low, high), part in averages.group_by("window_low", "window_high", maintain_order=True):
        for split in ("rank", "root number"):
            rows = part.filter(pl.col("split").is_in([split, "null"]))
            for axis, name in (("p", "p"), ("p/N", "ratio")):
                images[f"{low}-{high}__{split.replace(' ', '_')}__{name}.png"] = murmuration(
                    rows, axis, f"{low} ≤ N < {high}: average a_p by {split}")
    window = conductor_windows(ratios["conductor"].to_numpy(), windows)
    images["bsd_ratio.png"] = beta_fit_figure(ratios["log_bsd_ratio"].to_numpy(), window, fits)
    return images


def main() -> None:
    params = load_params()
    require_inputs("murmurations", params.paths, "bsd")
    section, paths = params.murmurations, params.paths
    primes = primes_up_to(section.primes_max)
    bsd = pl.read_parquet(paths.bsd)
    classes = bsd.unique("isogeny_class", keep="first", maintain_order=True)
    inside = pl.any_horizontal([pl.col("conductor").is_between(low, high, closed="left")
                                for low, high in section.conductor_windows])
    chosen = classes.filter(inside)
    if chosen.is_empty():
        raise ParamsError("murmurations.conductor_windows: no curve of the bsd table lies in them")
    salt = f"primes_max={section.primes_max};" + code_digest("pipeline.murmurations")
    work = chosen.select("label", "isogeny_class", "ainvs")
    chunk_paths = run_chunks(work, plan_chunks(work, "isogeny_class", section.chunk_size, salt),
                             Path(paths.murmurations_chunks),
                             partial(traces_chunk, primes=primes), workers=section.workers,
                             initializer=start_process_pari,
                             initargs=(REALPRECISION, section.pari_stack_mb),
                             desc="murmurations", executor=params.executor)
    traces = np.array(pl.read_parquet(chunk_paths)["traces"].to_list(), dtype=np.int64)
    rng = np.random.default_rng(section.seed)
    parts, summary = [], {}
    for low, high in section.conductor_windows:
        rows = (chosen["conductor"] >= low).to_numpy() & (chosen["conductor"] < high).to_numpy()
        if rows.sum() < 2:
            continue
        averages = window_averages(chosen.filter(rows), traces[rows], primes, section, rng)
        parts.append(averages.with_columns(window_low=pl.lit(low), window_high=pl.lit(high)))
        summary[f"{low}-{high}"] = {"classes": int(rows.sum()), "small_ratio_means":
                                    small_ratio_means(averages, section.small_ratio)}
    averages = pl.concat(parts)
    ratios = bsd.select("conductor", log_bsd_ratio=(pl.col("special_value").log()
                        - pl.col("real_period").log() - pl.col("regulator").log()))
    fits = beta_fits(ratios["log_bsd_ratio"].to_numpy(), ratios["conductor"].to_numpy(),
                     section.beta_windows)
    write_parquet(averages, paths.murmurations)
    write_parquet(fits, paths.bsd_ratio_fits)
    write_directory(figures(averages, fits, ratios, section.beta_windows),
                    paths.murmurations_figures)
    write_json({"small_ratio": section.small_ratio, "windows": summary,
                "bsd_ratio_beta": fits.select("conductor_low", "conductor_high", "a", "b", "ks")
                .to_dicts()}, paths.murmurations_metrics)
    shutil.rmtree(paths.murmurations_chunks)
    print(f"murmurations: {len(chosen)} classes in {len(summary)} windows, primes <= "
          f"{section.primes_max}; mean a_p at p/N <= {section.small_ratio}: "
          + "; ".join(f"{w}: " + ", ".join(f"{g} {v:+.2f}" for g, v in s["small_ratio_means"].items())
                      for w, s in summary.items()) + f" -> {paths.murmurations}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except ValueError as err:
        sys.exit(f"murmurations: error: {err}")
