"""DVC stage ``bsd``: the BSD quantities of every curve in ``paths.curves`` -> ``paths.bsd``.

PARI work runs in ``bsd.workers`` processes over chunks of whole isogeny classes
(:mod:`machinery.chunks`): a killed run resumes where it stopped. Every ``sha_an`` is checked to be
a perfect square (the stage fails naming the first curve that is not), and the final table is
checked to hold every input curve exactly once, in input order, before it is written atomically.
"""
from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path

import polars as pl

from arithmetic.bsd import BsdError, bsd_table
from arithmetic.curves import CurveError
from arithmetic.pari import precision_bits, process_pari, start_process_pari
from machinery.atomic import write_json, write_parquet
from machinery.chunks import chunk_table, plan_chunks, run_chunks
from machinery.code_digest import code_digest
from machinery.inputs import require_inputs
from machinery.params import Bsd, Executor, ParamsError, load_params
from machinery.stage import run_stage

def bsd_chunk(rows: pl.DataFrame, sha_tolerance: float, precision: int,
              lfunction_precision: int) -> pl.DataFrame:
    return bsd_table(process_pari(), rows, sha_tolerance, precision, lfunction_precision)


def chunk_salt(section: Bsd) -> str:
    """What shapes a chunk's result besides its rows: the numeric params and the arithmetic code."""
    code = code_digest("pipeline.bsd")
    return (f"realprecision={section.realprecision};lfunction_bits={section.lfunction_bits};"
            f"sha_tolerance={section.sha_tolerance};{code}")


def compute_bsd(curves: pl.DataFrame, section: Bsd, chunk_dir: Path,
                executor: Executor | None = None) -> pl.LazyFrame:
    """The BSD table of ``curves``, computed (or resumed) in ``chunk_dir``; checked for
    completeness."""
    chunks = plan_chunks(curves, "isogeny_class", section.chunk_size, chunk_salt(section))
    task = partial(bsd_chunk, sha_tolerance=section.sha_tolerance,
                   precision=precision_bits(section.realprecision),
                   lfunction_precision=section.lfunction_bits)
    paths = run_chunks(curves, chunks, chunk_dir, task,
                       workers=section.workers, initializer=start_process_pari,
                       initargs=(section.realprecision, section.pari_stack_mb),
                       cost=lambda chunk: curves["conductor"][chunk.stop - 1], desc="bsd",
                       executor=executor)
    return chunk_table(paths, curves, chunk_dir, BsdError)


def bsd_metrics(table: pl.LazyFrame) -> dict:
    """Counts of curves and classes and the distributions of rank, torsion and Sha."""
    def counts(column: str) -> dict[str, int]:
        frame = table.group_by(column).len().sort(column).collect()
        return {str(k): v for k, v in frame.iter_rows()}

    totals = table.select(curves=pl.len(), isogeny_classes=pl.col("isogeny_class").n_unique(),
                          max_sha=pl.col("sha").max(), max_rank=pl.col("rank").max()).collect()
    return {**totals.to_dicts()[0], "rank": counts("rank"), "torsion": counts("torsion"),
            "sha": counts("sha")}


def main() -> None:
    params = load_params()
    require_inputs("bsd", params.paths, "curves")
    curves = pl.read_parquet(params.paths.curves)
    table = compute_bsd(curves, params.bsd, params.paths.bsd_chunks, params.executor)
    write_parquet(table, params.paths.bsd)
    metrics = bsd_metrics(pl.scan_parquet(params.paths.bsd))
    write_json(metrics, params.paths.bsd_metrics)
    shutil.rmtree(params.paths.bsd_chunks)
    print(f"bsd: {metrics['curves']} curves, {metrics['isogeny_classes']} classes, ranks "
          f"{metrics['rank']}, largest Sha {metrics['max_sha']} -> {params.paths.bsd}",
          file=sys.stderr)


if __name__ == "__main__":
    run_stage("bsd", main, (ParamsError, BsdError, CurveError))
