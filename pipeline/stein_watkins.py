"""DVC stage ``stein_watkins``: a seeded sample of isogeny classes of the Stein–Watkins
database (:mod:`sources.stein_watkins`), PARI's arithmetic of their curves — checked against
the file's rank, torsion and discriminant — their invariants under the bounds of the params
section ``invariants`` (:func:`arithmetic.reference.sample_invariants`), and their model
features.

Outputs: ``paths.stein_watkins`` and ``paths.stein_watkins_features``; resumable and parallel
like the bsd stage.
"""
from __future__ import annotations

import sys

from arithmetic.bsd import BsdError
from arithmetic.reference import regulator_summary
from machinery.atomic import write_parquet
from machinery.params import ParamsError, load_params
from machinery.stage import run_stage
from pipeline import reference
from sources.stein_watkins import (SteinWatkinsError, check_against_pari, data_files,
                                      read_classes, sample_classes)


def main() -> None:
    params = load_params()
    section, chunks = params.stein_watkins, params.paths.stein_watkins_chunks
    files = data_files()
    if section.file not in files:
        raise SteinWatkinsError(f"stein_watkins.file: {section.file} is not in the installed "
                                f"database (it has {', '.join(sorted(files))})")
    table = read_classes(files[section.file].path, section.conductor_min, section.conductor_max)
    if table.is_empty():
        raise SteinWatkinsError(f"{section.file} has no curves with {section.conductor_min} "
                                f"<= N < {section.conductor_max}")
    table = sample_classes(table, section.classes, section.seed)
    computed = reference.compute_reference(table, section, params.invariants, chunks,
                                           "stein-watkins", executor=params.executor)
    check_against_pari(table, computed)
    computed = computed.with_columns(table.select("sw_special_value", "sw_line"))
    features = reference.sample_features(computed, params.features, section.workers,
                                         section.chunk_size, chunks,
                                         params.executor)
    write_parquet(computed, params.paths.stein_watkins)
    write_parquet(features, params.paths.stein_watkins_features)
    reference.finish(chunks)
    print(f"stein_watkins: {len(computed)} curves in {computed['isogeny_class'].n_unique()} "
          f"classes from {section.file}, {regulator_summary(computed)} -> "
          f"{params.paths.stein_watkins}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("stein_watkins", main, (ParamsError, BsdError, ValueError))
