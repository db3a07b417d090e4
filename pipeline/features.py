"""DVC stage ``features``: per-curve features for the models -> ``paths.features``, and each
feature group's columns -> ``paths.feature_groups``.

The table is :func:`pipeline.feature_table.feature_table` of the curves: the PARI work in
resumable chunks of whole isogeny classes, then the vectorized features and the invariants
stage's numbers. Every column belongs to exactly one feature group
(:mod:`arithmetic.feature_groups`); the groups are checked against the columns these params
plan before any chunk runs, and against the table's after.
"""
from __future__ import annotations

import shutil
import sys

import polars as pl

from machinery.atomic import write_json, write_parquet
from machinery.inputs import require_inputs
from machinery.params import load_params
from machinery.stage import run_stage
from models.features import KEY_COLUMNS
from pipeline.feature_table import (check_groups, feature_table, invariant_features,
                                    resolved_groups)


def main() -> None:
    params = load_params()
    require_inputs("features", params.paths, "curves", "bsd", "invariants")
    section = params.features
    curves = pl.read_parquet(params.paths.curves)
    bsd = pl.read_parquet(params.paths.bsd)
    invariants = invariant_features(pl.read_parquet(params.paths.invariants), curves,
                                    params.paths.invariants)
    planned = check_groups(curves, bsd, section, invariants.columns)
    table = feature_table(curves, bsd, invariants, section, params.paths.features_chunks,
                          params.executor)
    groups = resolved_groups(table.columns)
    if groups != planned:
        differing = sorted(g for g in groups.keys() | planned.keys()
                           if groups.get(g) != planned.get(g))
        raise ValueError(f"feature groups {differing} differ from those planned from the "
                         "first isogeny class")
    write_parquet(table, params.paths.features)
    write_json(groups, params.paths.feature_groups)
    shutil.rmtree(params.paths.features_chunks)
    print(f"features: {len(table)} curves, {len(table.columns) - len(KEY_COLUMNS)} features in "
          f"{len(groups)} groups ({', '.join(f'{g}: {len(c)}' for g, c in groups.items())}) "
          f"-> {params.paths.features}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("features", main, (ValueError,))   # ParamsError, and tables that do not match
