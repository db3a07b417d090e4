"""DVC stage ``findings``: Benjamini–Hochberg across the whole search and a verdict per pair
(:func:`models.verdicts.decide`), with ``conductor-bias artefact`` for the pairs whose bias
checks (``paths.bias``) fail -> ``paths.findings``, DVC metrics and a score plot."""
from __future__ import annotations

import sys
from collections import Counter

import polars as pl

from machinery.atomic import write_csv, write_json, write_parquet
from machinery.inputs import require_inputs
from machinery.params import ParamsError, load_params
from machinery.stage import run_stage
from models.verdicts import ARTEFACT, FLAGGED, NOT_REPLICATED, decide


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def findings_metrics(findings: pl.DataFrame) -> dict:
    """Counts by verdict, the flagged pairs with their effect sizes, and by metric the added
    value the other pairs could have detected at 90% power (median, least, largest)."""
    flagged = findings.filter(pl.col("verdict") == FLAGGED)
    unflagged = findings.filter(pl.col("verdict") != FLAGGED,
                                pl.col("detectable_added_value").is_not_null())
    return {
        "pairs": len(findings),
        "verdicts": dict(sorted(Counter(findings["verdict"].to_list()).items())),
        "detectable_added_value": {
            metric: {"median": _rounded(rows["detectable_added_value"].median()),
                     "min": _rounded(rows["detectable_added_value"].min()),
                     "max": _rounded(rows["detectable_added_value"].max()), "pairs": len(rows)}
            for (metric,), rows in unflagged.group_by("metric", maintain_order=True)},
        "flagged": {f"{r['target']} ~ {r['group']}": {
            "score": round(r["score"], 4), "best_baseline": r["best_baseline"],
            "baseline_score": round(r["baseline_score"], 4), "effect": round(r["effect"], 4),
            "known_gbm_score": _rounded(r["known_gbm_score"]),
            "added_value": round(r["added_value"], 4),
            "added_value_interval": [round(r["added_value_low"], 4),
                                     round(r["added_value_high"], 4)],
            "q_value": r["q_value"], "q_confirmation": r["q_confirmation"]}
            for r in flagged.iter_rows(named=True)},
    }


def main() -> None:
    params = load_params()
    require_inputs("findings", params.paths, "evaluations", "bias")
    evaluations = pl.read_parquet(params.paths.evaluations)
    bias = pl.read_parquet(params.paths.bias)
    rejected = {}
    for r in bias.iter_rows(named=True):
        if r["artefact_reason"]:
            rejected[(r["target"], r["group"])] = (ARTEFACT, r["artefact_reason"])
        elif r["not_replicated_reason"]:
            rejected[(r["target"], r["group"])] = (NOT_REPLICATED, r["not_replicated_reason"])
    decided = decide(evaluations.to_dicts(), params.search.fdr, rejected)
    findings = pl.DataFrame(decided, schema_overrides=dict(evaluations.schema))
    write_parquet(findings, params.paths.findings)
    write_json(findings_metrics(findings), params.paths.findings_metrics)
    plot = findings.select(pair=pl.col("target") + " ~ " + pl.col("group"), metric="metric",
                           model="score", best_baseline="baseline_score",
                           known_quantities="known_gbm_score", null_quantile="null_quantile",
                           verdict="verdict")
    write_csv(plot, params.paths.findings_plot)
    counts = findings["verdict"].value_counts(sort=True).iter_rows()
    print("findings: " + ", ".join(f"{n} {v}" for v, n in counts)
          + f" -> {params.paths.findings}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("findings", main, (ParamsError,))
