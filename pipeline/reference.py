"""What the two reference-sample stages share: the PARI work on their curves, in resumable
chunks of whole isogeny classes (:mod:`machinery.chunks`) — the BSD quantities
(:func:`arithmetic.reference.reference_table`) and the invariants of the invariants stage that a
sample can have (:func:`arithmetic.reference.sample_invariants`, under the bounds of the params
section ``invariants``) — then the features stage's own features and invariant columns
(:func:`pipeline.feature_table.feature_table`), so that every model and baseline of the search, with
the same known quantities, can be refitted on them unchanged."""
from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path
from typing import Callable

import cypari2
import polars as pl

from arithmetic.pari import precision_bits, process_pari, start_process_pari
from arithmetic.reference import CURVE_COLUMNS, reference_table, sample_invariants
from machinery.chunks import plan_chunks, run_chunks, source_digest
from machinery.code_digest import code_digest
from machinery.params import Executor, Features, Invariants
from pipeline.feature_table import feature_table, invariant_features


def sample_table(pari: cypari2.Pari, curves: pl.DataFrame, invariants: dict,
                 settings: dict) -> pl.DataFrame:
    """The reference quantities of ``curves`` (``settings``: :func:`table_settings`), then their
    invariants (``invariants``: :func:`invariant_settings`) beside them, row for row."""
    table = reference_table(pari, curves, **settings)
    return pl.concat([table, sample_invariants(pari, curves, **invariants).drop("label")],
                     how="horizontal")


def reference_chunk(rows: pl.DataFrame, invariants: dict, **settings) -> pl.DataFrame:
    return sample_table(process_pari(), rows, invariants, settings)


def table_settings(section) -> dict:
    """The keyword arguments of :func:`arithmetic.reference.reference_table` from a reference
    stage's params section."""
    return {"analytic_conductor_max": section.analytic_conductor_max,
            "sha_tolerance": section.sha_tolerance,
            "precision": precision_bits(section.realprecision),
            "lfunction_precision": section.lfunction_bits,
            "saturation_bound": section.saturation_bound,
            "generators_conductor_max": section.generators_conductor_max}


def invariant_settings(section: Invariants) -> dict:
    """The keyword arguments of :func:`arithmetic.reference.sample_invariants` from the params
    section ``invariants``: the bounds of the Cremona curves' invariants, so that a column means
    the same on every sample."""
    return {"zeros": section.zeros, "zeros_conductor_max": section.zeros_conductor_max,
            "selmer_conductor_max": section.selmer_conductor_max}


def compute_reference(table: pl.DataFrame, section, invariants: Invariants, chunk_dir: Path,
                      desc: str, task: Callable[..., pl.DataFrame] = reference_chunk,
                      code: tuple[str, ...] = (),
                      executor: Executor | None = None) -> pl.DataFrame:
    """``task`` (:func:`reference_chunk`, or one with its arguments) over ``table`` in chunks
    of whole classes, with the settings of the stage's ``section`` and of ``invariants``;
    resumable in ``chunk_dir``/pari, keyed by both sections' settings and the code (``code``:
    the task's files beyond this module's imports); the rows come back in input order, checked."""
    bounds = invariant_settings(invariants)
    task = partial(task, invariants=bounds, **table_settings(section))
    salt = (f"{section.model_dump_json()};invariants={json.dumps(bounds, sort_keys=True)};"
            + code_digest("pipeline.reference") + source_digest(*code))
    chunks = plan_chunks(table, "isogeny_class", section.chunk_size, salt)
    paths = run_chunks(table, chunks, Path(chunk_dir) / "pari", task, workers=section.workers,
                       initializer=start_process_pari,
                       initargs=(section.realprecision, section.pari_stack_mb), desc=desc,
                       executor=executor)
    computed = pl.read_parquet(paths)
    if not computed["label"].equals(table["label"]):
        raise ValueError(f"chunks in {chunk_dir} do not hold the {len(table)} input curves in "
                         "order; delete the directory and rerun")
    return computed


def sample_features(computed: pl.DataFrame, features: Features, workers: int, chunk_size: int,
                    chunk_dir: Path, executor: Executor | None = None) -> pl.DataFrame:
    """The features of a reference sample (``computed``: :func:`compute_reference`'s table), by
    the features stage's code and params, with the numbers of its invariants as the Cremona
    curves' feature table has them (:func:`pipeline.feature_table.invariant_features`). They run in
    the sample's ``workers`` processes over chunks of its ``chunk_size`` curves: in chunks of
    the features stage's size, a sample of a few thousand curves would be one chunk, one
    process."""
    section = features.model_copy(update={"workers": workers, "chunk_size": chunk_size})
    curves = computed.select(CURVE_COLUMNS)
    return feature_table(curves, computed, invariant_features(computed, curves), section,
                         Path(chunk_dir) / "features", executor)


def finish(chunk_dir: Path) -> None:
    """Drop the resume state once the outputs are written."""
    if Path(chunk_dir).exists():
        shutil.rmtree(chunk_dir)
