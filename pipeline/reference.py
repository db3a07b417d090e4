"""What the two reference-sample stages share: the PARI work on their curves, in resumable
chunks of whole isogeny classes (:mod:`pipeline.chunks`), then the features stage's own
features (:func:`pipeline.features.compute_features`), so that every model and baseline of the
search can be refitted on them unchanged."""
from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Callable

import polars as pl

from arithmetic.pari import precision_bits, process_pari, start_process_pari
from arithmetic.reference import CURVE_COLUMNS, reference_table
from pipeline.chunks import plan_chunks, run_chunks, source_digest
from pipeline.code_digest import code_digest
from pipeline.features import compute_features
from pipeline.params import Executor, Features

def reference_chunk(rows: pl.DataFrame, **settings) -> pl.DataFrame:
    return reference_table(process_pari(), rows, **settings)


def table_settings(section) -> dict:
    """The keyword arguments of :func:`arithmetic.reference.reference_table` from a reference
    stage's params section."""
    return {"analytic_conductor_max": section.analytic_conductor_max,
            "sha_tolerance": section.sha_tolerance,
            "precision": precision_bits(section.realprecision),
            "lfunction_precision": section.lfunction_bits,
            "saturation_bound": section.saturation_bound,
            "generators_conductor_max": section.generators_conductor_max}


def compute_reference(table: pl.DataFrame, section, chunk_dir: Path, desc: str,
                      task: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
                      code: tuple[str, ...] = (),
                      executor: Executor | None = None) -> pl.DataFrame:
    """``task`` (default: :func:`reference_chunk`) over ``table`` in chunks of whole classes,
    resumable in ``chunk_dir``/pari; the rows come back in input order, checked."""
    task = task or partial(reference_chunk, **table_settings(section))
    salt = (f"{section.model_dump_json()};"
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


def sample_features(computed: pl.DataFrame, features: Features, workers: int,
                    chunk_dir: Path, executor: Executor | None = None) -> pl.DataFrame:
    """The features of a reference sample, by the features stage's code and params."""
    section = features.model_copy(update={"workers": workers})
    return compute_features(computed.select(CURVE_COLUMNS), computed, section,
                            Path(chunk_dir) / "features", executor)


def finish(chunk_dir: Path) -> None:
    """Drop the resume state once the outputs are written."""
    if Path(chunk_dir).exists():
        shutil.rmtree(chunk_dir)
