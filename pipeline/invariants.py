"""DVC stage ``invariants``: the further invariants of every curve in ``paths.curves`` ->
``paths.invariants`` (:mod:`arithmetic.invariants`).

One row per curve, in the order of ``paths.curves``, keyed by ``label`` (so it joins the bsd and
features tables on ``label``, or side by side). PARI work runs in ``invariants.workers``
processes over chunks of whole isogeny classes (:mod:`machinery.chunks`): a killed run resumes
where it stopped. The costly quantities stop at their params' conductor bounds (null beyond):
``degree_conductor_max`` (the modular degree, optimal curves only), ``zeros_conductor_max``
and ``selmer_conductor_max``; raise them (up to ``ingest.conductor_max``) to cover more.

Metrics (``paths.invariants_metrics``): counts of what was computed; Watkins' conjecture on every
curve with a modular degree (holds / violations, with the rank from the curve table's
generators); the Szpiro ratio's distribution by conductor decade and its maximum.
"""
from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path

import polars as pl

import arithmetic.invariants
import arithmetic.pari
from arithmetic.invariants import (InvariantsError, invariants_table, single_threaded,
                                   watkins_divisibility, zero_columns)
from arithmetic.pari import process_pari, start_process_pari
from machinery.atomic import write_json, write_parquet
from machinery.chunks import chunk_table, plan_chunks, run_chunks, source_digest
from machinery.inputs import require_inputs
from machinery.params import Executor, Invariants, ParamsError, load_params
from machinery.stage import run_stage

#: The invariants are exact (or, for the zeros, computed at their own precision): PARI's least.
REALPRECISION = 19


def start_worker(stack_mb: int) -> None:
    """The process's PARI handle (:func:`arithmetic.pari.start_process_pari`), on one PARI
    thread (:func:`arithmetic.invariants.single_threaded`)."""
    start_process_pari(REALPRECISION, stack_mb)
    single_threaded(process_pari(), stack_mb)


def invariants_chunk(rows: pl.DataFrame, degree_conductor_max: int, zeros: int,
                     zeros_conductor_max: int, selmer_conductor_max: int) -> pl.DataFrame:
    return invariants_table(process_pari(), rows, degree_conductor_max=degree_conductor_max,
                            zeros=zeros, zeros_conductor_max=zeros_conductor_max,
                            selmer_conductor_max=selmer_conductor_max)


def chunk_salt(section: Invariants) -> str:
    """What shapes a chunk's result besides its rows: the bounds and the arithmetic code."""
    code = source_digest(arithmetic.invariants.__file__, arithmetic.pari.__file__)
    return (f"degree_conductor_max={section.degree_conductor_max};zeros={section.zeros};"
            f"zeros_conductor_max={section.zeros_conductor_max};"
            f"selmer_conductor_max={section.selmer_conductor_max};{code}")


def chunk_cost(curves: pl.DataFrame, section: Invariants):
    """A chunk's expected work, for longest-first scheduling, in units of the isogeny class and
    Szpiro ratio of one curve (~0.3 ms, benchmarks/RESULTS.md): the zeros add ~10 per curve,
    the 2-Selmer rank ~15, the modular degree ~N/35 per curve where computed."""
    conductor = curves["conductor"]

    def cost(chunk) -> float:
        top = conductor[chunk.stop - 1]
        per_curve = (1 + 10 * (top <= section.zeros_conductor_max)
                     + 15 * (top <= section.selmer_conductor_max)
                     + top / 35 * (top <= section.degree_conductor_max))
        return chunk.rows * per_curve
    return cost


def compute_invariants(curves: pl.DataFrame, section: Invariants, chunk_dir: Path,
                       executor: Executor | None = None) -> pl.LazyFrame:
    """The invariants table of ``curves``, computed (or resumed) in ``chunk_dir``; checked to
    hold every input curve once, in input order."""
    chunks = plan_chunks(curves, "isogeny_class", section.chunk_size, chunk_salt(section))
    task = partial(invariants_chunk, degree_conductor_max=section.degree_conductor_max,
                   zeros=section.zeros, zeros_conductor_max=section.zeros_conductor_max,
                   selmer_conductor_max=section.selmer_conductor_max)
    paths = run_chunks(curves, chunks, chunk_dir, task, workers=section.workers,
                       initializer=start_worker, initargs=(section.pari_stack_mb,),
                       cost=chunk_cost(curves, section), desc="invariants", executor=executor)
    return chunk_table(paths, curves, chunk_dir, InvariantsError)


def _decade(conductor: pl.Expr) -> pl.Expr:
    """k for the conductor decade [10^k, 10^(k+1)) of the Szpiro summary."""
    return conductor.log10().floor().cast(pl.Int64)


def invariants_metrics(table: pl.DataFrame, curves: pl.DataFrame, section: Invariants) -> dict:
    """Counts of what was computed; Watkins' conjecture (2^r | degree, r the number of
    generators in the curve table, i.e. its rank) on every curve with a degree; the Szpiro
    ratio per conductor decade (count, mean, 99th percentile, max and its curve) and overall."""
    frame = table.join(curves.select("label", "conductor", rank=pl.col("gens").list.len()),
                       on="label", how="left", maintain_order="left")
    degree = frame.filter(pl.col("degree").is_not_null()).with_columns(
        holds=watkins_divisibility(pl.col("degree"), pl.col("rank")))
    violations = degree.filter(~pl.col("holds"))
    by_rank = degree.group_by("rank").agg(curves=pl.len(), holds=pl.col("holds").sum(),
                                          min_v2=pl.col("degree_v2").min()).sort("rank")
    decades = frame.group_by(decade=_decade(pl.col("conductor"))).agg(
        curves=pl.len(), mean=pl.col("szpiro_ratio").mean(),
        q99=pl.col("szpiro_ratio").quantile(0.99, "nearest"),
        max=pl.col("szpiro_ratio").max(),
        label=pl.col("label").get(pl.col("szpiro_ratio").arg_max())).sort("decade")
    top = frame.row(frame["szpiro_ratio"].arg_max(), named=True)
    zeros = zero_columns(section.zeros)
    return {
        "curves": len(frame),
        "isogeny_classes": curves["isogeny_class"].n_unique(),
        "optimal_curves": int(frame["optimality"].sum()),
        "computed": {"degree": len(degree),
                     "zeros": int(frame[zeros[0]].is_not_null().sum()) if zeros else 0,
                     "two_selmer_rank": int(frame["two_selmer_rank"].is_not_null().sum())},
        "bounds": {"degree_conductor_max": section.degree_conductor_max,
                   "zeros_conductor_max": section.zeros_conductor_max,
                   "selmer_conductor_max": section.selmer_conductor_max},
        "class_size": {str(k): v for k, v in frame.group_by("class_size").len()
                       .sort("class_size").iter_rows()},
        "watkins": {
            "statement": "2^r divides the modular degree of the optimal curve, r its rank "
                         "(Watkins 2002, Experiment. Math. 11, §5.3)",
            "curves": len(degree), "holds": int(degree["holds"].sum()),
            "violations": len(violations),
            "violating_curves": violations["label"].head(20).to_list(),
            "by_rank": by_rank.to_dicts()},
        "szpiro": {
            "statement": "for every ε > 0, |Δ_min| <= C(ε) N^(6+ε): limsup of "
                         "log|Δ_min|/log N is at most 6 (Szpiro 1990, Astérisque 183)",
            "max": top["szpiro_ratio"], "max_curve": top["label"],
            "mean": float(frame["szpiro_ratio"].mean()),
            "above_6": int((frame["szpiro_ratio"] > 6).sum()),
            "by_decade": [{**r, "conductor_low": 10 ** r["decade"],
                           "conductor_high": 10 ** (r["decade"] + 1)}
                          for r in decades.to_dicts()]},
    }


def main() -> None:
    params = load_params()
    require_inputs("invariants", params.paths, "curves")
    section, paths = params.invariants, params.paths
    curves = pl.read_parquet(paths.curves)
    table = compute_invariants(curves, section, Path(paths.invariants_chunks), params.executor)
    write_parquet(table, paths.invariants)
    metrics = invariants_metrics(pl.read_parquet(paths.invariants), curves, section)
    write_json(metrics, paths.invariants_metrics)
    shutil.rmtree(paths.invariants_chunks)
    watkins, szpiro = metrics["watkins"], metrics["szpiro"]
    print(f"invariants: {metrics['curves']} curves; modular degree of {watkins['curves']} "
          f"optimal curves (N <= {section.degree_conductor_max}): Watkins holds for "
          f"{watkins['holds']}, {watkins['violations']} violations; largest Szpiro ratio "
          f"{szpiro['max']:.3f} ({szpiro['max_curve']}) -> {paths.invariants}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("invariants", main, (ParamsError, InvariantsError))
