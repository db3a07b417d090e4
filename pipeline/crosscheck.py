"""DVC stage ``crosscheck``: our PARI BSD quantities (``paths.bsd``) and a_p (``paths.features``)
against what the source publishes (``paths.published``, ``paths.published_ap``) -> the mismatch
table ``paths.crosscheck`` and the metric ``paths.crosscheck_metrics`` (counts compared and
mismatched, by quantity). A mismatch does not stop the pipeline: the report shows every one.
"""
from __future__ import annotations

import re
import sys

import polars as pl

from arithmetic.crosscheck import MISMATCH_SCHEMA, PUBLISHED_SCHEMA, compare_ap, compare_bsd
from machinery.atomic import write_json, write_parquet
from machinery.inputs import require_inputs
from machinery.params import ParamsError, load_params
from machinery.stage import run_stage


def crosscheck(bsd: pl.DataFrame, features: pl.LazyFrame, published: pl.DataFrame,
               published_ap: pl.DataFrame, tolerance: float) -> tuple[pl.DataFrame, dict]:
    """(mismatch table, metrics) of the whole comparison."""
    mismatches, compared = compare_bsd(bsd, published, tolerance)
    ap_columns = [c for c in features.collect_schema().names() if re.fullmatch(r"ap_\d+", c)]
    ap_mismatches, ap_compared = compare_ap(
        features.select("isogeny_class", *ap_columns).collect(), published_ap)
    table = pl.concat([mismatches, ap_mismatches]).cast(MISMATCH_SCHEMA)
    if ap_compared:
        compared["a_p"] = ap_compared
    by_quantity = {q: n for q, n in table.group_by("quantity").len().sort("quantity").iter_rows()}
    metrics = {"curves": len(bsd), "published_curves": len(published),
               "relative_tolerance": tolerance, "compared": compared,
               "mismatches": len(table), "mismatches_by_quantity": by_quantity}
    return table, metrics


def main() -> None:
    params = load_params()
    require_inputs("crosscheck", params.paths, "bsd", "features", "published", "published_ap")
    paths = params.paths
    bsd = pl.read_parquet(paths.bsd, columns=list(PUBLISHED_SCHEMA))
    table, metrics = crosscheck(bsd, pl.scan_parquet(paths.features),
                                pl.read_parquet(paths.published),
                                pl.read_parquet(paths.published_ap),
                                params.crosscheck.relative_tolerance)
    metrics = {"source": params.ingest.source, **metrics}
    write_parquet(table, paths.crosscheck)
    write_json(metrics, paths.crosscheck_metrics)
    print(f"crosscheck ({metrics['source']}): compared {metrics['compared']}; "
          f"{metrics['mismatches']} mismatches -> {paths.crosscheck}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("crosscheck", main, (ParamsError,))
