"""DVC stage ``height_sample``: curves y² = x³ + Ax + B drawn uniformly by naive height
(:func:`arithmetic.reference.draw_height_sample`), their minimal models and PARI's arithmetic
(:func:`arithmetic.reference.reference_table`) and invariants under the bounds of the params
section ``invariants`` (:func:`arithmetic.reference.sample_invariants`), then their model
features.

Outputs: ``paths.height_sample`` (curves, BSD quantities and invariants, null where unknown) and
``paths.height_sample_features``. Resumable and parallel like the bsd stage.
"""
from __future__ import annotations

import sys

import polars as pl

from arithmetic.bsd import BsdError
from arithmetic.pari import process_pari
from arithmetic.reference import draw_height_sample, minimal_curves, regulator_summary
from machinery.atomic import write_parquet
from machinery.params import ParamsError, load_params
from machinery.stage import run_stage
from pipeline import reference


def height_chunk(pairs: pl.DataFrame, invariants: dict, **settings) -> pl.DataFrame:
    """The reference quantities and invariants of the pairs' minimal curves
    (:func:`reference.sample_table`; settings: those of :func:`reference.table_settings`)."""
    pari = process_pari()
    return reference.sample_table(pari, minimal_curves(pari, pairs), invariants, settings)


def main() -> None:
    params = load_params()
    section, chunks = params.height_sample, params.paths.height_sample_chunks
    pairs = draw_height_sample(section.height, section.curves, section.seed)
    computed = reference.compute_reference(pairs, section, params.invariants, chunks,
                                           "height sample", height_chunk, (__file__,),
                                           params.executor)
    features = reference.sample_features(computed, params.features, section.workers,
                                         section.chunk_size, chunks,
                                         params.executor)
    write_parquet(computed, params.paths.height_sample)
    write_parquet(features, params.paths.height_sample_features)
    reference.finish(chunks)
    known = computed["rank"].is_not_null().sum()
    print(f"height_sample: {len(computed)} curves with H <= {section.height}, conductors "
          f"{computed['conductor'].min()}..{computed['conductor'].max()}, rank known for "
          f"{known}, {regulator_summary(computed)} -> {params.paths.height_sample}",
          file=sys.stderr)


if __name__ == "__main__":
    run_stage("height_sample", main, (ParamsError, BsdError, ValueError))
