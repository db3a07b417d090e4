"""DVC stage ``bias``: the conductor-bias checks (:mod:`models.bias`) of every pair the
findings engine would flag (it beats the known quantities, the baselines and the nulls, and is
confirmed on held-out classes), and the distributions of the three samples.

Reads the train stage's evaluations (the pre-bias verdicts come from
:func:`models.findings.decide`), the Cremona features and BSD table, and the two reference
samples. Writes ``paths.bias`` (one row per checked pair: conductor-stratum trend, reweighted
scores, replications, and the artefact reason, empty if it survives), ``paths.bias_distributions``,
``paths.bias_metrics`` and the distribution plots in ``paths.bias_figures``. The findings stage
turns a non-empty artefact reason into the verdict ``conductor-bias artefact``, and a sample the
replication could not be tried on into ``not replicated``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from models.bias import (artefact_reason, distributions, importance_weights,
                         not_replicated_reason, replicable, stratum_trend, weighted_margin)
from models.features import model_frame
from models.findings import FLAGGED, cross_validated, decide, evaluate
from models.search import (pair_tools, pairs, search_settings, search_targets,
                           sha_model_factory)
from pipeline.atomic import write_directory, write_json, write_parquet
from pipeline.frames import search_frame
from pipeline.inputs import require_inputs
from pipeline.params import ParamsError, Params, load_params
from reporting.figures import distribution_file, sample_distribution

SAMPLES = {"height-ordered": ("height_sample_features", "height_sample"),
           "Stein-Watkins": ("stein_watkins_features", "stein_watkins")}


def load_samples(params: Params) -> dict[str, pl.DataFrame]:
    """Model frames of the Cremona curves the search scored and of the two reference samples."""
    frames = {"Cremona": search_frame(params)}
    for name, (features, table) in SAMPLES.items():
        frames[name] = model_frame(pl.read_parquet(getattr(params.paths, features)),
                                   pl.read_parquet(getattr(params.paths, table)))
    return frames


def check_pair(finding: dict, frames: dict[str, pl.DataFrame], weights: np.ndarray,
               params: Params, tools: dict) -> dict:
    """Every bias check of one pair the engine would flag."""
    pair = tools["pair"]
    target, columns = pair.target, pair.columns
    make_gbm, baselines, null = pair_tools(pair, tools["groups"], params.search, params.nulls,
                                           params.features, params.search.threads,
                                           tools["sha_model"])
    best = [b for b in baselines if b.name == finding["best_baseline"]]
    settings = search_settings(params.search)
    oof = cross_validated(frames["Cremona"], target, columns, make_gbm, best, settings)
    rows = frames["Cremona"].with_columns(target.expression.alias("__t")).select(
        pl.col("__t").is_not_null()).to_series().to_numpy()
    weighted = weighted_margin(target.task, oof, finding["best_baseline"], weights[rows],
                               params.bias.bootstrap, params.bias.seed)
    trend = stratum_trend(finding["strata"], params.bias.low_strata_share)
    replications = []
    for sample in SAMPLES:
        frame = frames[sample]
        tried, why = replicable(frame, target.expression, columns, params.bias.minimum_curves,
                                params.bias.minimum_coverage, pair.known)
        entry = {"sample": sample, "tried": tried, "why_not": why, "score": None,
                 "baseline_score": None, "best_baseline": None, "p_value": None, "curves": None,
                 "added_value": None, "added_value_low": None}
        if tried:
            result = evaluate(frame, target, finding["group"], columns, make_gbm, baselines,
                              null, search_settings(params.search, params.bias.null_datasets),
                              pair.known)
            entry.update({key: result[key] for key in (
                "score", "baseline_score", "best_baseline", "p_value", "curves", "added_value",
                "added_value_low")})
        replications.append(entry)
    return {"target": finding["target"], "group": finding["group"], "metric": finding["metric"],
            "score": finding["score"], "best_baseline": finding["best_baseline"],
            "baseline_score": finding["baseline_score"], "trend_slope": trend["slope"],
            "low_margin": trend["low_margin"], "high_margin": trend["high_margin"],
            "low_only": trend["low_only"], **weighted,
            "replications": json.dumps(replications),
            "artefact_reason": artefact_reason(trend, weighted, replications, params.search.fdr),
            "not_replicated_reason": not_replicated_reason(replications)}


def figures(table: pl.DataFrame) -> dict[str, bytes]:
    """One bar chart per quantity, the three samples side by side."""
    return {distribution_file(q): sample_distribution(table.filter(pl.col("quantity") == q), q)
            for q in table["quantity"].unique(maintain_order=True).to_list()}


def main() -> None:
    params = load_params()
    require_inputs("bias", params.paths, "evaluations", "features", "feature_groups", "bsd",
                   "height_sample", "height_sample_features", "stein_watkins",
                   "stein_watkins_features")
    evaluations = pl.read_parquet(params.paths.evaluations)
    would_flag = [r for r in decide(evaluations.to_dicts(), params.search.fdr)
                  if r["verdict"] == FLAGGED]
    frames = load_samples(params)
    weights, covered = importance_weights(frames["Cremona"], frames["height-ordered"],
                                          params.bias.discriminant_bins, params.bias.bad_primes_cap)
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    targets = search_targets(params.search, params.features, groups)
    found = {(p.target.name, p.group): p for p in pairs(targets, params.search.groups, groups,
                                                          frames["Cremona"].columns)}
    sha_model = sha_model_factory(params.nulls)
    rows = []
    with threadpool_limits(limits=params.search.threads):  # as train's workers (train.py)
        for finding in tqdm(would_flag, desc="bias", unit="pair", file=sys.stderr):
            key = (finding["target"], finding["group"])
            tools = {"pair": found[key], "groups": groups, "sha_model": sha_model}
            rows.append(check_pair(finding, frames, weights, params, tools))
    schema = {"target": pl.String, "group": pl.String, "metric": pl.String, "score": pl.Float64,
              "best_baseline": pl.String, "baseline_score": pl.Float64,
              "trend_slope": pl.Float64, "low_margin": pl.Float64, "high_margin": pl.Float64,
              "low_only": pl.Boolean, "weighted_score": pl.Float64,
              "weighted_baseline": pl.Float64, "weighted_margin_low": pl.Float64,
              "weighted_margin_high": pl.Float64, "replications": pl.String,
              "artefact_reason": pl.String, "not_replicated_reason": pl.String}
    table = pl.DataFrame(rows, schema=schema)
    shares = distributions(frames)
    write_parquet(table, params.paths.bias)
    write_parquet(shares, params.paths.bias_distributions)
    write_directory(figures(shares), params.paths.bias_figures)
    artefacts = table.filter(pl.col("artefact_reason") != "")
    write_json({"checked": len(table), "artefacts": len(artefacts),
                "survive": len(table) - len(artefacts),
                "height_mass_covered": round(covered, 4),
                "curves": {name: len(frame) for name, frame in frames.items()}},
               params.paths.bias_metrics)
    print(f"bias: {len(table)} pairs checked, {len(artefacts)} conductor-bias artefacts; the "
          f"reweighting covers {covered:.1%} of the height-ordered sample -> {params.paths.bias}",
          file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except (ParamsError, ValueError) as err:
        sys.exit(f"bias: error: {err}")
