"""DVC stage ``bias``: the conductor-bias checks (:mod:`models.bias`) of every pair the
findings engine would flag (it beats the known quantities, the baselines and the nulls, and is
confirmed on held-out classes), and the distributions of the three samples.

Reads the train stage's evaluations (the pre-bias verdicts come from
:func:`models.verdicts.decide`), the Cremona features and BSD table, and the two reference
samples. Writes ``paths.bias`` (one row per checked pair: conductor-stratum trend with its p-value,
reweighted scores, replications with the interval of each replicated difference and the effect
it could detect, the artefact reason, empty if there is no evidence of one, and the
not-replicated reason), ``paths.bias_distributions``, ``paths.bias_metrics`` and the distribution
plots in ``paths.bias_figures``. The findings stage turns a non-empty artefact reason into the
verdict ``conductor-bias artefact``, and a non-empty not-replicated reason (a sample the
replication could not be tried on, or a check that failed without evidence) into ``not
replicated``.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from machinery.atomic import write_directory, write_json, write_parquet
from machinery.code_digest import code_digest, source_digest
from machinery.inputs import require_inputs
from machinery.params import ParamsError, Params, load_params
from machinery.runner import Job, run_jobs
from machinery.stage import run_stage
from models.bias import (artefact_reason, distributions, importance_weights,
                         not_replicated_reason, replicable, replication_power,
                         same_size_subsample, stratum_trend, unknown_features, weighted_margin)
from models.delaunay import ShaModel
from models.features import model_frame
from models.findings import cross_validated, evaluate
from models.search import (Pair, pair_tools, read_pairs, search_settings, search_targets,
                           sha_model_factory)
from models.verdicts import FLAGGED, decide
from pipeline.frames import search_frame
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


#: What a replication record copies from the replicated search (:func:`models.findings.evaluate`).
REPLICATED = ("score", "baseline_score", "best_baseline", "p_value", "curves", "effect",
              "effect_low", "effect_high", "added_value", "added_value_low", "added_value_high")
#: The replication's columns of the bias table, per sample (prefixed with its stage's name).
REPLICATION_COLUMNS = ("effect_low", "effect_high", "effect_detectable", "added_value_low",
                       "added_value_high", "added_value_detectable")


def replicate(finding: dict, sample: str, frame: pl.DataFrame, cremona: pl.DataFrame,
              params: Params, search: tuple) -> dict:
    """One replication record: the search refitted on a reference sample where it can be tried,
    with its intervals and what it could detect (:func:`models.bias.replication_power`), held
    against the same search on Cremona curves of the sample's size
    (:func:`models.bias.same_size_subsample`)."""
    pair, columns, make_gbm, baselines, null = search
    tried, why = replicable(frame, pair.target.expression, columns, params.bias.minimum_curves,
                            params.bias.minimum_coverage, pair.known)
    entry = {"sample": sample, "tried": tried, "why_not": why, **dict.fromkeys(REPLICATED),
             "features_unknown": unknown_features(frame, cremona, columns) if tried else []}
    cremona_at_size = finding
    if tried:
        def searched(data: pl.DataFrame) -> dict:
            return evaluate(data, pair.target, finding["group"], columns, make_gbm, baselines,
                            null, search_settings(params.search, params.bias.null_datasets),
                            pair.known).row()

        result = searched(frame)
        entry.update({key: result[key] for key in REPLICATED})
        same = searched(same_size_subsample(cremona, len(frame), params.bias.seed))
        cremona_at_size = {**{key: same[key] for key in REPLICATED if key.startswith(
            ("effect", "added_value"))}, "discovery_curves": same["curves"]}
    return {**entry, **replication_power(entry, cremona_at_size, params.search.fdr)}


def replication_columns(replications: list[dict]) -> dict:
    """The replications' intervals and detectable effects as columns, null where not tried."""
    return {f"{SAMPLES[r['sample']][1]}_{key}": r.get(key)
            for r in replications for key in REPLICATION_COLUMNS}


def check_pair(finding: dict, pair: Pair, worker: "Worker") -> dict:
    """Every bias check of one pair the engine would flag (``pair``: as the train stage
    resolved it)."""
    frames, weights, params = worker.frames, worker.weights, worker.params
    target, columns = pair.target, pair.columns
    make_gbm, baselines, null = pair_tools(pair, worker.groups, params.search, params.nulls,
                                           params.features, params.search.threads,
                                           worker.sha_model)
    best = [b for b in baselines if b.name == finding["best_baseline"]]
    settings = search_settings(params.search)
    oof = cross_validated(frames["Cremona"], target, columns, make_gbm, best, settings)
    rows = frames["Cremona"].with_columns(target.expression.alias("__t")).select(
        pl.col("__t").is_not_null()).to_series().to_numpy()
    weighted = weighted_margin(target.task, oof, finding["best_baseline"], weights[rows],
                               params.bias.bootstrap, params.bias.seed)
    trend = stratum_trend(finding["strata"], params.bias.low_strata_share)
    search = (pair, columns, make_gbm, baselines, null)
    replications = [replicate(finding, sample, frames[sample], frames["Cremona"], params, search)
                    for sample in SAMPLES]
    checked = (trend, weighted, replications, params.search.fdr, finding["effect"])
    return {"target": finding["target"], "group": finding["group"], "metric": finding["metric"],
            "score": finding["score"], "best_baseline": finding["best_baseline"],
            "baseline_score": finding["baseline_score"], "effect": finding["effect"],
            "added_value": finding["added_value"], "trend_slope": trend["slope"],
            "trend_p": trend["p_value"], "low_margin": trend["low_margin"],
            "high_margin": trend["high_margin"], "low_only": trend["low_only"], **weighted,
            "replications": json.dumps(replications), **replication_columns(replications),
            "artefact_reason": artefact_reason(*checked),
            "not_replicated_reason": not_replicated_reason(*checked)}


def table_schema() -> dict:
    """The columns of ``paths.bias``, in the order of :func:`check_pair` (docs/outputs.md)."""
    floats = ["baseline_score", "effect", "added_value", "trend_slope", "trend_p", "low_margin",
              "high_margin"]
    weighted = ["weighted_score", "weighted_baseline", "weighted_margin_low",
                "weighted_margin_high"]
    replicated = [f"{table}_{key}" for _, table in SAMPLES.values()
                  for key in REPLICATION_COLUMNS]
    return {"target": pl.String, "group": pl.String, "metric": pl.String, "score": pl.Float64,
            "best_baseline": pl.String, **dict.fromkeys(floats, pl.Float64),
            "low_only": pl.Boolean, **dict.fromkeys(weighted, pl.Float64),
            "replications": pl.String, **dict.fromkeys(replicated, pl.Float64),
            "artefact_reason": pl.String, "not_replicated_reason": pl.String}


def figures(table: pl.DataFrame) -> dict[str, bytes]:
    """One bar chart per quantity, the three samples side by side."""
    return {distribution_file(q): sample_distribution(table.filter(pl.col("quantity") == q), q)
            for q in table["quantity"].unique(maintain_order=True).to_list()}


@dataclass
class Worker:
    """What a bias process loads once (:func:`start_worker`): the three samples, the
    importance weights, the pairs as the train stage resolved them (``paths.pairs``)."""
    params: Params
    frames: dict[str, pl.DataFrame]
    weights: np.ndarray
    groups: dict[str, list[str]]
    pairs: dict[tuple[str, str], Pair]
    sha_model: Callable[[], ShaModel]


#: The process's :class:`Worker`, set by :func:`start_worker`.
_worker: Worker | None = None


def start_worker(params: Params, weights: np.ndarray) -> None:
    """Load the three samples and the pairs once per worker process, with the thread pools of
    train's workers (pipeline/train.py); ``weights``: the importance weights main computed."""
    global _worker
    threadpool_limits(limits=params.search.threads)
    frames = load_samples(params)
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    targets = search_targets(params.search, params.features, groups)
    resolved = read_pairs(pl.read_parquet(params.paths.pairs), targets,
                          frames["Cremona"].columns)
    _worker = Worker(params, frames, weights, groups, resolved,
                     sha_model_factory(params.nulls))


def check_job(finding: dict) -> dict:
    """:func:`check_pair` of one finding, in a worker started by :func:`start_worker`."""
    return check_pair(finding, _worker.pairs[(finding["target"], finding["group"])], _worker)


def checks_key(params: Params) -> str:
    """What every pair's checks depend on: the resolved pairs, the evaluations, the samples,
    the params the stage reads and its code."""
    paths = params.paths
    data = source_digest(paths.pairs, paths.evaluations, paths.features, paths.bsd,
                         paths.height_sample, paths.height_sample_features,
                         paths.stein_watkins, paths.stein_watkins_features)
    settings = "".join(getattr(params, name).model_dump_json()
                       for name in ("bias", "search", "nulls", "features"))
    return hashlib.sha256((data + settings + code_digest("pipeline.bias")).encode()
                          ).hexdigest()[:16]


def main() -> None:
    params = load_params()
    require_inputs("bias", params.paths, "pairs", "evaluations", "features", "feature_groups",
                   "bsd",
                   "height_sample", "height_sample_features", "stein_watkins",
                   "stein_watkins_features")
    evaluations = pl.read_parquet(params.paths.evaluations)
    would_flag = [r for r in decide(evaluations.to_dicts(), params.search.fdr)
                  if r["verdict"] == FLAGGED]
    frames = load_samples(params)
    weights, covered = importance_weights(frames["Cremona"], frames["height-ordered"],
                                          params.bias.discriminant_bins,
                                          params.bias.bad_primes_cap)
    key = checks_key(params)
    # one job per pair, in search.workers processes; a killed run resumes with the pairs left
    done = run_jobs([Job(f"{f['target']}~{f['group']}", key, f, cost=f["curves"])
                     for f in would_flag], params.paths.bias_chunks, check_job,
                    workers=params.search.workers, initializer=start_worker,
                    initargs=(params, weights), save=write_json, suffix=".json", desc="bias",
                    unit="pair")
    rows = [json.loads(path.read_text()) for path in done]
    table = pl.DataFrame(rows, schema=table_schema())
    shares = distributions(frames)
    write_parquet(table, params.paths.bias)
    write_parquet(shares, params.paths.bias_distributions)
    write_directory(figures(shares), params.paths.bias_figures)
    artefacts = table.filter(pl.col("artefact_reason") != "")
    # a pair the checks could not decide neither survives nor is an artefact
    undecided = table.filter(pl.col("artefact_reason") == "",
                             pl.col("not_replicated_reason") != "")
    write_json({"checked": len(table), "artefacts": len(artefacts),
                "not_replicated": len(undecided),
                "survive": len(table) - len(artefacts) - len(undecided),
                "height_mass_covered": round(covered, 4),
                "curves": {name: len(frame) for name, frame in frames.items()}},
               params.paths.bias_metrics)
    print(f"bias: {len(table)} pairs checked, {len(artefacts)} conductor-bias artefacts, "
          f"{len(undecided)} not replicated; the "
          f"reweighting covers {covered:.1%} of the height-ordered sample -> {params.paths.bias}",
          file=sys.stderr)


if __name__ == "__main__":
    run_stage("bias", main, (ParamsError, ValueError))
