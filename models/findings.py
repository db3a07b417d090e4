"""The findings engine: is a target predictable from a feature group *beyond* what the
heuristic baselines and the quasirandom null models already predict?

For one (target, group):

1. Splits by isogeny class: K folds (out-of-fold predictions for every curve) and an
   extrapolation split (train on small conductors, test on the largest).
2. The GBM and every applicable baseline are scored on the same splits; scores carry a cluster
   bootstrap over isogeny classes (:mod:`models.scores`), paired across predictors.
3. Null datasets from the target's null model (:mod:`models.nulls`): the GBM is refitted on
   each, on the first fold's split, and scored on the first fold's test classes. The model's own
   first-fold score is compared with them: p_null from a normal fit to the null scores (with a
   handful of null datasets an empirical rank p-value cannot go below 1/(n+1); the empirical
   one is reported beside it).
4. p_baseline: the one-sided p-value of "model > best baseline" from a normal fit to the
   paired bootstrap differences (the empirical share of resamples with no gain, whose floor is
   1/(B+1), is reported beside it). The p-value of the finding is max(p_null, p_baseline) (an intersection–union
   test: the model must beat both), corrected across the whole search by Benjamini–Hochberg.
5. Effect size = model − max(best baseline, null 95% quantile), with its bootstrap interval.
6. Scores by conductor stratum (equal-count bins, out-of-fold predictions): the model and the
   best baseline per stratum, for the report and the bias checks.

Verdicts: ``flagged`` (q <= FDR and the model beats the best baseline on the extrapolation
split too), ``fails extrapolation`` (q <= FDR, but not on the extrapolation split),
``conductor-bias artefact`` (would be flagged, but fails the bias checks of
:mod:`models.bias`), ``not predictable`` (the model has no skill: the lower end of its interval is <= 0, the score of
a constant), ``explained by <baseline>`` (a baseline reaches the model), ``explained by <null>
null model`` (the null datasets reach it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from models.gbm import GbmModel, out_of_fold
from models.nulls import conductor_strata
from models.scores import PRIMARY, ClassBootstrap, interval, point_scores
from models.splits import class_index, extrapolation_test, grouped_folds
from models.targets import Target

TARGET = "__target__"


@dataclass(frozen=True)
class SearchSettings:
    folds: int
    extrapolation_share: float
    bootstrap: int
    null_datasets: int
    null_quantile: float
    fdr: float
    seed: int
    strata: int = 10


def stratum_scores(task: str, metric: str, conductor: np.ndarray, y: np.ndarray,
                   model: np.ndarray, baseline: np.ndarray, strata: int) -> list[dict]:
    """Model and baseline point scores in each equal-count conductor stratum."""
    index = conductor_strata(conductor, strata)
    rows = []
    for stratum in np.unique(index):
        rows_in = index == stratum
        rows.append({"conductor_low": int(conductor[rows_in].min()),
                     "conductor_high": int(conductor[rows_in].max()),
                     "curves": int(rows_in.sum()),
                     "model": point_scores(task, y[rows_in], model[rows_in])[metric],
                     "baseline": point_scores(task, y[rows_in], baseline[rows_in])[metric]})
    return rows


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold predictions of the model and of each baseline, on the rows with a target."""
    data: pl.DataFrame
    y: np.ndarray
    classes: np.ndarray
    folds: np.ndarray
    model: np.ndarray
    baselines: dict[str, np.ndarray]
    rounds: int                 # median number of boosting rounds early stopping kept per fold


def cross_validated(frame: pl.DataFrame, target: Target, columns: list[str],
                    make_gbm: Callable[[list[str], str], GbmModel], baselines: list,
                    settings: SearchSettings) -> CrossValidated:
    """K folds by isogeny class; every predictor fitted on the other folds."""
    data = frame.with_columns(target.expression.alias(TARGET)).filter(pl.col(TARGET).is_not_null())
    classes = class_index(data)
    folds = grouped_folds(classes, settings.folds, settings.seed)
    fold_models = []

    def make_fold_model() -> GbmModel:
        fold_models.append(make_gbm(columns, target.task))
        return fold_models[-1]

    model = out_of_fold(make_fold_model, data, TARGET, folds, classes)
    predictions = {b.name: out_of_fold(lambda b=b: b, data, TARGET, folds, classes)
                   for b in baselines}
    rounds = int(np.median([m.rounds_ for m in fold_models]))
    return CrossValidated(data, data[TARGET].to_numpy(), classes, folds, model, predictions,
                          rounds)


def _scored(boot: ClassBootstrap, prediction: np.ndarray, metric: str):
    point, resampled = boot.score(prediction)
    return point, resampled[metric]


def evaluate(frame: pl.DataFrame, target: Target, group: str, columns: list[str],
             make_gbm: Callable[[list[str], str], GbmModel],
             baselines: list, null_model: Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame],
             settings: SearchSettings) -> dict:
    """All statistics of one (target, group); the verdict is set by :func:`decide` later."""
    oof = cross_validated(frame, target, columns, make_gbm, baselines, settings)
    data, y, classes, folds = oof.data, oof.y, oof.classes, oof.folds
    metric = PRIMARY[target.task]
    cv = ClassBootstrap(target.task, y, classes, settings.bootstrap, settings.seed)
    make = lambda: make_gbm(columns, target.task)  # noqa: E731

    model_prediction, predictions = oof.model, oof.baselines
    model_point, model_boot = _scored(cv, model_prediction, metric)
    scored = {name: _scored(cv, prediction, metric) for name, prediction in predictions.items()}
    best = max(scored, key=lambda name: scored[name][0][metric])
    best_point, best_boot = scored[best]
    strata = stratum_scores(target.task, metric, data["conductor"].to_numpy(), y,
                            model_prediction, predictions[best], settings.strata)

    # extrapolation: train on the smaller conductors, test on the largest
    test = extrapolation_test(data["conductor"].to_numpy(), settings.extrapolation_share)
    ex = ClassBootstrap(target.task, y[test], classes[test], settings.bootstrap, settings.seed)
    ex_model = make().fit(data.filter(~test), TARGET, classes[~test]).predict(data.filter(test))
    ex_point, ex_boot = _scored(ex, ex_model, metric)
    ex_scores = {}
    for baseline in baselines:
        extra = {"classes": classes[~test]} if isinstance(baseline, GbmModel) else {}
        fitted = baseline.fit(data.filter(~test), TARGET, **extra)
        ex_scores[baseline.name] = _scored(ex, fitted.predict(data.filter(test)), metric)
    ex_best = max(ex_scores, key=lambda name: ex_scores[name][0][metric])
    ex_difference = ex_boot - ex_scores[ex_best][1]

    # null datasets, on the first fold's split
    first = folds == 0
    first_boot = ClassBootstrap(target.task, y[first], classes[first], 2, settings.seed)
    fit_first = lambda rows: make().fit(rows.filter(~first), TARGET, classes[~first])  # noqa: E731
    model_first = first_boot.score(fit_first(data).predict(data.filter(first)))[0][metric]
    null_scores = []
    for index in range(settings.null_datasets):
        rng = np.random.default_rng([settings.seed, index])
        null = null_model(frame, rng).with_columns(target.expression.alias(TARGET)) \
            .filter(pl.col(TARGET).is_not_null())
        null_boot = ClassBootstrap(target.task, null[TARGET].to_numpy()[first], classes[first], 2,
                                   settings.seed)
        null_scores.append(null_boot.score(fit_first(null).predict(null.filter(first)))[0][metric])
    null_scores = np.array(null_scores)
    spread = max(null_scores.std(ddof=1), 1e-3)
    p_null = float(norm.sf((model_first - null_scores.mean()) / spread))
    p_null_empirical = float((1 + np.sum(null_scores >= model_first)) / (1 + len(null_scores)))
    null_q = float(np.quantile(null_scores, settings.null_quantile))

    difference = model_boot - best_boot
    p_baseline = float(norm.sf((model_point[metric] - best_point[metric])
                               / max(difference.std(ddof=1), 1e-9)))
    p_baseline_empirical = float((1 + np.sum(difference <= 0)) / (1 + len(difference)))
    effect = model_boot - np.maximum(best_boot, null_q)
    return {
        "target": target.name, "group": group, "task": target.task, "metric": metric,
        "features": len(columns), "curves": len(data), "gbm_rounds": oof.rounds,
        "score": model_point[metric],
        "scores": json.dumps(model_point), "baseline_all_scores": json.dumps(best_point),
        "score_low": interval(model_boot)[0],
        "score_high": interval(model_boot)[1],
        "best_baseline": best, "baseline_score": best_point[metric],
        "baseline_low": interval(best_boot)[0], "baseline_high": interval(best_boot)[1],
        "baseline_scores": {name: s[0][metric] for name, s in scored.items()},
        "null_model": target.null, "null_mean": float(null_scores.mean()),
        "null_quantile": null_q, "null_scores": null_scores.tolist(),
        "score_first_fold": model_first,
        "effect": model_point[metric] - max(best_point[metric], null_q),
        "effect_low": interval(effect)[0], "effect_high": interval(effect)[1],
        "p_null": p_null, "p_null_empirical": p_null_empirical, "p_baseline": p_baseline, "p_baseline_empirical": p_baseline_empirical,
        "p_value": max(p_null, p_baseline),
        "extrapolation_score": ex_point[metric], "extrapolation_baseline": ex_best,
        "extrapolation_baseline_score": ex_scores[ex_best][0][metric],
        "extrapolation_effect_low": interval(ex_difference)[0],
        "extrapolation_effect_high": interval(ex_difference)[1],
        "strata": strata,
    }


def decide(results: list[dict], fdr: float,
           artefacts: dict[tuple[str, str], str] | None = None) -> list[dict]:
    """Benjamini–Hochberg q-values across the whole search, then each result's verdict.

    ``artefacts`` maps (target, group) to the reason the bias checks (:mod:`models.bias`) give
    for a finding that would be flagged but does not survive them: its verdict becomes
    ``conductor-bias artefact``."""
    if not results:
        return []
    q = multipletests([r["p_value"] for r in results], method="fdr_bh")[1]
    decided = []
    for result, q_value in zip(results, q):
        result = {**result, "q_value": float(q_value)}
        result["verdict"], result["reason"] = _verdict(result, fdr)
        if result["verdict"] == "flagged" and artefacts and (
                reason := artefacts.get((result["target"], result["group"]))):
            result["verdict"], result["reason"] = "conductor-bias artefact", reason
        decided.append(result)
    return decided


def _verdict(r: dict, fdr: float) -> tuple[str, str]:
    if r["q_value"] <= fdr:
        if r["extrapolation_effect_low"] > 0:
            return "flagged", (f"beats {r['best_baseline']} and the {r['null_model']} null "
                               f"(q = {r['q_value']:.2g}) and holds on the largest conductors")
        return "fails extrapolation", (
            f"beats the baselines in cross-validation (q = {r['q_value']:.2g}) but not "
            f"{r['extrapolation_baseline']} on the largest conductors")
    if r["score_low"] <= 0:
        return "not predictable", f"{r['metric']} interval reaches 0 ({r['score_low']:.3f})"
    if r["p_baseline"] > fdr and r["best_baseline"] != "constant":
        return f"explained by {r['best_baseline']}", (
            f"{r['best_baseline']} scores {r['baseline_score']:.3f} against {r['score']:.3f}")
    if r["p_baseline"] > fdr:
        return "not predictable", "no better than a constant"
    return f"explained by {r['null_model']} null model", (
        f"null datasets reach {r['null_quantile']:.3f} (95%) against {r['score_first_fold']:.3f}")
