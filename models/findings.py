"""The findings engine: is a target predictable from a feature group *beyond* what known
mathematics computes exactly from that group (:mod:`models.known_quantities`), the heuristic
baselines and the quasirandom null models already predict?

For one (target, group):

0. A seeded ``confirmation_share`` of the twist families (isogeny classes joined with their
   quadratic twists, :func:`models.splits.twist_family_index`) is held out of every fit below
   (:func:`confirmation_families`); everything else runs on the discovery classes.
1. Splits by twist family: K folds (out-of-fold predictions for every curve) and an
   extrapolation split (train on the families starting at small conductors, test on those
   starting above a cut, :func:`models.splits.extrapolation_test`). Early stopping holds back
   whole families too. A split by isogeny class alone would put E and its twist E^d on two
   sides, and a_p(E^d) = χ_d(p)·a_p(E) makes a_p-type targets look predictable.
2. The GBM and every baseline are scored on the same splits: the constant, the laws of known
   mathematics that apply to the pair (:mod:`models.laws`: the group determines every quantity
   the law reads) and the GBM on what the pair knows (its known quantities and what those laws
   read, :data:`KNOWN_GBM`). Scores carry a cluster bootstrap over twist families
   (:mod:`models.scores`), paired across predictors: a family is predicted by one fold model
   and its curves share |a_p|, so their errors are not independent, and the resampled unit is
   the unit the splits keep whole.
3. The added value decides: the GBM on what the pair knows *with* the features minus the best
   baseline, out of fold, with its paired interval and p_added; and the same on the held-out
   confirmation families (fitted on every discovery curve). A group that derives nothing
   beyond its own columns (the conductor, the root number) meets the constant and the laws
   its columns feed, and can be flagged like any other.
   A law that computes the target on every discovery curve (Tate's algorithm computes ∏c_p
   from the equation; :func:`computes_exactly`) leaves nothing to add: no GBM on what the pair
   knows is fitted against it, and p_added is 1.
   **Screen:** a pair whose p_added lies above the FDR level is decided here
   (:func:`screened`): the null datasets (4), the confirmation and the extrapolation test
   cannot change its verdict and are not run (their statistics are null; its p-value is the
   lower bound p_added).
4. Null datasets from the target's null model (:mod:`models.nulls`): the GBM is refitted on
   each, on the first fold's split, and scored on the first fold's test families. The model's
   first-fold score (that of its first fold model) is compared with them: p_null from a normal
   fit to the null scores (with a handful of null datasets an empirical rank p-value cannot go
   below 1/(n+1); the empirical one is reported beside it).
5. p_baseline (model alone against the best baseline) is reported, not decisive. The p-value
   of the finding is max(p_null, p_added) (an intersection–union test: the model must pass
   both), corrected across the whole search by Benjamini–Hochberg; the candidates'
   confirmation p-values are corrected again among themselves. Every p-value's method is
   stored beside it (:data:`P_METHODS`). A pair that is not flagged states the added value it
   could have detected (:func:`models.verdicts.detectable`).
6. Effect size = model − max(best baseline, null ``null_quantile``), with its interval.
7. Scores by conductor stratum (equal-count bins, out-of-fold predictions): the model and the
   best baseline per stratum, for the report and the bias checks.

The extrapolation test needs evidence, as the bias checks do: a pair ``fails extrapolation``
when the interval of its added value on the largest conductors reaches 0 *and* lies below the
added value of cross-validation. An effect shown there (the interval above 0) passes even if
smaller (trees do not extrapolate a trend beyond their training range), and so does one whose
interval still holds the cross-validated value: those families are a fifth of the discovery
classes, too few to confirm a weak effect by themselves; the held-out confirmation families
do that.

The verdicts and the rules that give them are in :mod:`models.verdicts`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl
from scipy.stats import norm

from models.gbm import GbmModel, out_of_fold
from models.laws import null_without, related_to
from models.pair_result import PairResult
from models.scores import PRIMARY, ClassBootstrap, interval, point_scores
from models.splits import (class_index, conductor_strata, extrapolation_test, first_appearance,
                           grouped_folds, twist_family_index)
from models.targets import Target
from models.verdicts import NUMERIC_NOISE

TARGET = "__target__"
#: Each row's twist family (:func:`with_families`), the unit of every split.
FAMILY = "__twist_family__"
#: The searched GBM on a pair's known quantities alone (a baseline of every pair that knows
#: something); the pair's added value is the GBM on them with the features minus this one.
KNOWN_GBM = "known quantities"


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
    confirmation_share: float = 0.3
    withhold: tuple[str, ...] = ()          # laws left out of this run (models.laws)



#: How each p-value is computed, printed beside it.
P_METHODS = {
    "p_null": "normal fit to the {n} null-dataset scores (parametric upper tail); empirical: "
              "rank among them, floor 1/{n1}",
    "p_baseline": "normal fit to {b} paired family-bootstrap differences model - best baseline "
                  "(parametric); empirical: share of resamples <= 0, floor 1/{b1}",
    "p_added": "normal fit to {b} paired family-bootstrap differences (what the pair knows + "
               "features) - (best baseline: its best law, the GBM on what it knows, or the "
               "constant) (parametric); empirical: share <= 0, floor 1/{b1}; 1 where a law "
               "computes the target exactly (nothing can add to it, nothing was fitted)",
    "p_confirmation": "the same on the held-out confirmation classes (parametric); empirical: "
                      "share of resamples <= 0, floor 1/{b1}",
    "p_value": "max(p_null, p_added) (intersection-union test); for a screened pair p_added, "
               "a lower bound above the FDR level (its null datasets were not fitted)",
}


def p_methods(settings: SearchSettings) -> dict[str, str]:
    n, b = settings.null_datasets, settings.bootstrap
    return {name: text.format(n=n, n1=n + 1, b=b, b1=b + 1) for name, text in P_METHODS.items()}


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
    classes: np.ndarray         # isogeny class per row (:func:`models.splits.class_index`)
    families: np.ndarray        # twist family per row: the unit of the folds and the bootstrap
    folds: np.ndarray
    model: np.ndarray
    baselines: dict[str, np.ndarray]
    rounds: int                 # median number of boosting rounds early stopping kept per fold
    exact: str | None = None    # a law's predictor that computes the target on every row


def with_target(frame: pl.DataFrame, target: Target) -> pl.DataFrame:
    """The rows of ``frame`` where ``target`` is known, with it in the column :data:`TARGET`."""
    return frame.with_columns(target.expression.alias(TARGET)).filter(pl.col(TARGET).is_not_null())


def with_families(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each row's twist family (:func:`models.splits.twist_family_index`) in
    the column :data:`FAMILY`, unless it has one. A frame without a-invariants (a synthetic
    one) has no j-invariant to join classes by: its families are its isogeny classes."""
    if FAMILY in frame.columns:
        return frame
    families = twist_family_index(frame) if "ainvs" in frame.columns else class_index(frame)
    return frame.with_columns(pl.Series(FAMILY, families))


def family_index(frame: pl.DataFrame) -> np.ndarray:
    """0..k−1 per row of a frame with :data:`FAMILY`, by first appearance (a subset of the
    rows, such as those with a target, leaves no family empty)."""
    return first_appearance(frame[FAMILY].to_numpy())


def confirmation_families(frame: pl.DataFrame, share: float, seed: int) -> np.ndarray:
    """True for the rows of a seeded ``share`` of the twist families of ``frame`` (with
    :data:`FAMILY`), held out of every discovery fit: the candidates of the search are
    confirmed on them. Whole families: a discovery fit on E would otherwise read the a_p of a
    held-out twist E^d up to sign."""
    families = family_index(frame)
    count = families.max() + 1
    held = np.random.default_rng([seed, 1]).permutation(count)[:max(1, round(share * count))]
    return np.isin(families, held)


def baseline_key(baseline) -> tuple:
    """What a baseline's predictions depend on besides the target's rows: its name and its
    inputs. Within one target (same rows, folds and seed) equal keys give equal predictions."""
    inputs = getattr(baseline, "columns", None) or getattr(baseline, "inputs", None) or ()
    return baseline.name, tuple(inputs)


def _shared(cache: dict | None, key: tuple, compute: Callable[[], object]):
    """``compute()``, or its earlier result under ``key`` in ``cache`` (None: no cache)."""
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


#: The fields of a :class:`GbmModel` that decide its fit (besides its columns and task).
GBM_SETTINGS = ("seed", "n_estimators", "learning_rate", "num_leaves", "min_child_samples",
                "early_stopping_rounds", "validation_share")


def is_the_model(baseline, model: GbmModel) -> bool:
    """A GBM baseline that is the searched GBM ``model`` itself (same task and settings), whose
    predictions it takes instead of a refit: the GBM on the known quantities when they are the
    pair's features (in any order), or any GBM baseline on exactly the pair's features (the
    conductor-only GBM of the conductor group)."""
    return (isinstance(baseline, GbmModel) and baseline.task == model.task
            and all(getattr(baseline, f) == getattr(model, f) for f in GBM_SETTINGS)
            and (list(baseline.columns) == list(model.columns)
                 or (baseline.name == KNOWN_GBM and set(baseline.columns) == set(model.columns))))


def cross_validated(frame: pl.DataFrame, target: Target, columns: list[str],
                    make_gbm: Callable[[list[str], str], GbmModel], baselines: list,
                    settings: SearchSettings, cache: dict | None = None) -> CrossValidated:
    """K folds by twist family (:func:`with_families`); every predictor fitted on the other
    folds, early stopping on whole families of them. ``cache`` (one per target and frame)
    keeps the baselines' predictions for the target's other groups: most baselines read the
    same inputs whatever the group."""
    data = with_target(with_families(frame), target)
    classes, families = class_index(data), family_index(data)
    folds = grouped_folds(families, settings.folds, settings.seed)
    fold_models = []

    def make_fold_model() -> GbmModel:
        fold_models.append(make_gbm(columns, target.task))
        return fold_models[-1]

    model = out_of_fold(make_fold_model, data, TARGET, folds, families)
    y = data[TARGET].to_numpy()

    def predicted(b) -> np.ndarray:
        if is_the_model(b, fold_models[0]):
            return model
        return _shared(cache, ("oof", *baseline_key(b)),
                       lambda: out_of_fold(lambda: b, data, TARGET, folds, families))

    # the laws' own predictors (closed forms, small fitted heuristics) before any GBM: when
    # one computes the target, no GBM can score above it
    closed = {b.name: predicted(b) for b in baselines if not isinstance(b, GbmModel)}
    exact = next((b.name for b in baselines if getattr(b, "law", "") and b.name in closed
                  and computes_exactly(closed[b.name], y)), None)
    predictions = {b.name: closed[b.name] if b.name in closed else predicted(b)
                   for b in baselines if b.name in closed or exact is None
                   or is_the_model(b, fold_models[0])}
    rounds = int(np.median([m.rounds_ for m in fold_models]))
    return CrossValidated(data, y, classes, families, folds, model, predictions, rounds, exact)


#: The largest difference (absolute, and relative to the target) between a law's prediction
#: and a real target that still counts as computing it: the laws' floating-point arithmetic
#: (logarithms of the BSD quantities) differs from the target's by about 1e-15.
EXACT_TOLERANCE = 1e-9


def computes_exactly(prediction: np.ndarray, y: np.ndarray) -> bool:
    """True when ``prediction`` is the target ``y`` on every row (to :data:`EXACT_TOLERANCE`
    for a real target). No prediction then scores above it on any resample of the rows, so a
    GBM fitted against it can add at most that tolerance, far below :data:`NUMERIC_NOISE`."""
    if prediction.dtype.kind in "fc" or y.dtype.kind in "fc":
        return bool(np.allclose(prediction.astype(float), y.astype(float),
                                rtol=EXACT_TOLERANCE, atol=EXACT_TOLERANCE))
    return bool(np.array_equal(prediction, y))


def _scored(boot: ClassBootstrap, prediction: np.ndarray, metric: str):
    point, resampled = boot.score(prediction)
    return point, resampled[metric]


def _gain(boot: ClassBootstrap, better: np.ndarray, worse: np.ndarray, metric: str) -> dict:
    """Score of ``better`` minus score of ``worse`` on the same rows, its paired bootstrap
    interval and one-sided p-values (parametric normal fit; empirical share <= 0)."""
    better_point, better_boot = _scored(boot, better, metric)
    worse_point, worse_boot = _scored(boot, worse, metric)
    difference = better_boot - worse_boot
    gain = better_point[metric] - worse_point[metric]
    low, high = interval(difference)
    se = float(difference.std(ddof=1))
    return {"gain": gain, "low": low, "high": high, "better": better_point[metric],
            "worse": worse_point[metric], "se": se, "p": float(norm.sf(gain / max(se, 1e-9))),
            "p_empirical": float((1 + np.sum(difference <= 0)) / (1 + len(difference)))}


def _known_fits(discovery: pl.DataFrame, held: pl.DataFrame, target: Target, columns: list[str],
                reference, inputs: list[str], make_gbm, families: np.ndarray,
                cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predictions on ``held`` of the ``reference`` (the pair's best baseline: a law, the GBM
    on the known quantities, or the constant) and of the GBM on the known ``inputs`` with the
    features, both fitted on ``discovery``, early stopping on whole ``families`` of it."""
    extra = {"classes": families} if isinstance(reference, GbmModel) else {}
    reference_prediction = _shared(
        cache, ("confirmation", *baseline_key(reference)),
        lambda: reference.fit(discovery, TARGET, **extra).predict(held))
    both = known_and_features(inputs, columns, discovery.columns)
    return reference_prediction, _shared(
        cache, ("confirmation", "known + features", *both),
        lambda: make_gbm(both, target.task).fit(discovery, TARGET, families).predict(held))


def known_and_features(known: list[str], columns: list[str], order: list[str]) -> list[str]:
    """The inputs of the GBM on what the pair knows with the features, in the frame's column
    ``order``: two groups of one target that know the same and add the same features (the
    equation and the arithmetic group, which the equation determines) give the same list,
    hence one shared fit."""
    wanted = set(known) | set(columns)
    return [c for c in order if c in wanted]


def evaluate(frame: pl.DataFrame, target: Target, group: str, columns: list[str],
             make_gbm: Callable[[list[str], str], GbmModel],
             baselines: list,
             null_model: Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame],
             settings: SearchSettings, known: list[str] = (), cache: dict | None = None,
             screen: bool = True) -> PairResult:
    """All statistics of one (target, group); the verdict is set by
    :func:`models.verdicts.decide` later, over the rows of the evaluations table.

    ``known``: the pair's known quantities. Everything but the confirmation runs on the
    discovery classes; a ``settings.confirmation_share`` of the twist families is held out of
    every fit and only scores the added value of the features over the known quantities.
    ``cache``: shared by the evaluations of one target on one frame (:func:`cross_validated`).
    ``screen``: stop after the cheap tests when they decide the verdict (:func:`screened`);
    False runs every test."""
    known = list(known)
    frame, confirmation = split_confirmation(frame, target, settings, cache)
    oof = cross_validated(frame, target, columns, make_gbm, baselines, settings, cache)
    metric = PRIMARY[target.task]
    # the resamples depend on the target's rows alone: one draw serves all its groups
    cv = _shared(cache, ("bootstrap",),
                 lambda: ClassBootstrap(target.task, oof.y, oof.families, settings.bootstrap,
                                        settings.seed))
    scores = _scores(cv, oof, target.task, metric, baselines, settings.strata)
    inputs = known_inputs(baselines)
    both_inputs = known_and_features(inputs, columns, oof.data.columns)
    gain = _added_value(cv, oof, metric, columns, inputs, both_inputs, make_gbm, target,
                        scores["best_baseline"], cache)
    result = PairResult(**{
        "target": target.name, "group": group, "task": target.task, "metric": metric,
        "features": len(columns), "curves": len(oof.data), "gbm_rounds": oof.rounds,
        **scores["head"],
        **_laws_read(target, baselines, scores, known, inputs, columns, frame.columns,
                     settings.withhold, oof.exact),
        **_gain_columns(gain, scores["known_gbm_score"]),
        "null_model": null_without(target.null, settings.withhold), "null_scores": [],
        "null_level": settings.null_quantile,
        **scores["effect"](-np.inf),
        "p_baseline": scores["versus_best"]["p"],
        "p_baseline_empirical": scores["versus_best"]["p_empirical"],
        "p_value": gain["p"], "p_methods": json.dumps(p_methods(settings)),
        "strata": scores["strata"],
        "screened": screen and screened(gain["p"], settings.fdr),
    })
    if result.screened:
        return result
    reference = next(b for b in baselines if b.name == scores["best_baseline"])
    make_both = lambda: make_gbm(both_inputs, target.task)  # noqa: E731
    nulls = _null_test(frame, target, lambda: make_gbm(columns, target.task), null_model, oof,
                       settings, metric)
    return result.with_statistics(
        **nulls, **_confirmation_test(oof.data, confirmation, target, columns, reference,
                                      inputs, make_gbm, oof.families, settings, metric, cache),
        **_extrapolation_test(target, make_both, baselines, oof, settings, metric, cache),
        **scores["effect"](nulls["null_quantile"]),
        p_value=max(nulls["p_null"], gain["p"]))


def split_confirmation(frame: pl.DataFrame, target: Target, settings: SearchSettings,
                       cache: dict | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the discovery frame, the held-out confirmation rows with the target). The twist
    families are those of the whole frame, before any row is dropped: a family whose curves
    lack the target in between stays one family."""
    frame = _shared(cache, ("twist families",), lambda: with_families(frame))
    all_rows = with_target(frame, target)
    held_out = confirmation_families(all_rows, settings.confirmation_share, settings.seed)
    confirmation = all_rows.filter(pl.Series(held_out))
    discovery = frame.filter(
        pl.col(FAMILY).is_in(confirmation[FAMILY].unique().implode()).not_())
    return discovery, confirmation


def _scores(cv: ClassBootstrap, oof: CrossValidated, task: str, metric: str, baselines: list,
            strata: int) -> dict:
    """The model's and every baseline's out-of-fold scores with their intervals, the best
    baseline (the exact law, if one computes the target), the scores by conductor stratum,
    the model against the best baseline, and the effect size as a function of the null's
    floor."""
    model_point, model_boot = _scored(cv, oof.model, metric)
    scored = {name: _scored(cv, prediction, metric) for name, prediction in oof.baselines.items()}
    best = oof.exact or max(scored, key=lambda name: scored[name][0][metric])
    best_point, best_boot = scored[best]

    def effect(floor: float) -> dict:
        """model − max(best baseline, ``floor``), at the point and over the resamples."""
        spread = model_boot - np.maximum(best_boot, floor)
        return {"effect": model_point[metric] - max(best_point[metric], floor),
                "effect_low": interval(spread)[0], "effect_high": interval(spread)[1]}

    head = {
        "score": model_point[metric],
        "scores": json.dumps(model_point), "baseline_all_scores": json.dumps(best_point),
        "score_low": interval(model_boot)[0], "score_high": interval(model_boot)[1],
        "best_baseline": best, "baseline_score": best_point[metric],
        "baseline_low": interval(best_boot)[0], "baseline_high": interval(best_boot)[1],
        "baseline_scores": json.dumps({name: s[0][metric] for name, s in scored.items()}),
        "baseline_inputs": json.dumps({b.name: b.words for b in baselines}),
    }
    return {"head": head, "best_baseline": best, "effect": effect,
            "by_name": {name: s[0][metric] for name, s in scored.items()},
            "known_gbm_score": scored[KNOWN_GBM][0][metric] if KNOWN_GBM in scored else None,
            "strata": stratum_scores(task, metric, oof.data["conductor"].to_numpy(),
                                     oof.y, oof.model, oof.baselines[best], strata),
            "versus_best": _gain(cv, oof.model, oof.baselines[best], metric)}


def _added_value(cv: ClassBootstrap, oof: CrossValidated, metric: str, columns: list[str],
                 inputs: list[str], both_inputs: list[str], make_gbm, target: Target,
                 best: str, cache: dict | None) -> dict:
    """The added value that decides: everything the pair knows (its known quantities and what
    its applicable laws read) with the features, out of fold, against the best of what it
    knows; :data:`NOTHING_TO_ADD` where a law computes the target (nothing is fitted)."""
    if oof.exact:
        return NOTHING_TO_ADD
    if not inputs:                                        # the GBM on the features: the model
        both = oof.model
    elif set(columns) <= set(inputs):
        both = oof.baselines[KNOWN_GBM]
    else:
        both = _shared(cache, ("oof", "known + features", tuple(both_inputs)),
                       lambda: out_of_fold(lambda: make_gbm(both_inputs, target.task), oof.data,
                                           TARGET, oof.folds, oof.families))
    return _gain(cv, both, oof.baselines[best], metric)


def _laws_read(target: Target, baselines: list, scores: dict, known: list[str],
               inputs: list[str], columns: list[str], frame_columns: list[str],
               withhold: tuple[str, ...], exact: str | None) -> dict:
    """What the pair knows and which law does best among its baselines; the laws related to
    the target that its inputs do not determine (:func:`models.laws.related_to`)."""
    laws = {b.name: getattr(b, "law", "") for b in baselines}
    law_scores = {name: score for name, score in scores["by_name"].items() if laws.get(name)}
    best_law = max(law_scores, key=law_scores.get) if law_scores else None
    return {
        "best_baseline_kind": laws.get(scores["best_baseline"], ""),
        "known_quantities": json.dumps(known), "known_inputs": json.dumps(inputs),
        "known_formula": best_law, "known_formula_kind": laws.get(best_law, ""),
        "known_formula_score": law_scores.get(best_law),
        "related_laws": json.dumps(related_to(target, set(columns) | set(known), frame_columns,
                                              withhold)),
        "exact_law": exact,
    }


def _gain_columns(gain: dict, known_gbm_score: float | None) -> dict:
    """The added value's columns of the evaluations table."""
    return {"known_gbm_score": known_gbm_score,
            "known_plus_features_score": gain["better"], "added_value": gain["gain"],
            "added_value_low": gain["low"], "added_value_high": gain["high"],
            "added_value_se": gain["se"], "p_added": gain["p"],
            "p_added_empirical": gain["p_empirical"]}


#: The added-value test of a pair whose target a law computes exactly (:func:`computes_exactly`):
#: no prediction can score above it, so the GBM on what the pair knows is not fitted, the added
#: value is at most 0, and p_added is 1.
NOTHING_TO_ADD = {"gain": 0.0, "low": 0.0, "high": 0.0, "better": None, "se": 0.0, "p": 1.0,
                  "p_empirical": 1.0}


def known_inputs(baselines: list) -> list[str]:
    """The inputs of the pair's GBM on what it knows (:data:`KNOWN_GBM`), or none."""
    return next((list(b.columns) for b in baselines if b.name == KNOWN_GBM), [])


def above_level(p: float, fdr: float) -> bool:
    """True when ``p`` lies above the FDR level by more than :data:`NUMERIC_NOISE`: no
    threshold of :func:`_verdict` can count it significant."""
    return p > fdr * (1 + NUMERIC_NOISE)


def screened(p_added: float, fdr: float) -> bool:
    """True when the added-value test already decides the verdict: p_added lies above the FDR
    level (:func:`above_level`). The pair's p-value, max(p_null, p_added), is then above it
    too, whatever the null datasets give, so the pair is never significant, and
    Benjamini–Hochberg decides every other pair as with the full p-value (a p above the level
    never lowers a q-value to it). Its verdict is settled by the first check of
    :func:`_verdict`, and the null datasets, the confirmation and the extrapolation fits are
    skipped; its ``p_value`` is the lower bound p_added, which only its own q-value reads."""
    return above_level(p_added, fdr)


def _null_test(frame, target, make, null_model, oof, settings, metric) -> dict:
    """The null datasets, on the first fold's split: the model refitted on each and scored on
    the first fold's test families, against the model's own first-fold score (its fold model,
    the same fit). A null dataset keeps the rows of ``frame`` (a null model redraws or moves
    values, never rows), so its rows are those of ``oof.data``; a permutation may move a missing
    target onto one of them, and such a row sits that dataset out."""
    y, families, folds = oof.y, oof.families, oof.folds
    first = folds == 0
    first_boot = ClassBootstrap(target.task, y[first], families[first], 2, settings.seed)
    model_first = first_boot.score(oof.model[first])[0][metric]
    rows = frame.select(target.expression.is_not_null()).to_series()
    null_scores = []
    for index in range(settings.null_datasets):
        rng = np.random.default_rng([settings.seed, index])
        null = null_model(frame, rng).filter(rows).with_columns(target.expression.alias(TARGET))
        kept = null[TARGET].is_not_null().to_numpy()
        train, test = kept & ~first, kept & first
        fitted = make().fit(null.filter(pl.Series(train)), TARGET, families[train])
        null_boot = ClassBootstrap(target.task, null[TARGET].to_numpy()[test], families[test],
                                   2, settings.seed)
        null_scores.append(null_boot.score(fitted.predict(null.filter(pl.Series(test))))[0][metric])
    null_scores = np.array(null_scores)
    spread = max(null_scores.std(ddof=1), 1e-3)
    return {"null_mean": float(null_scores.mean()),
            "null_quantile": float(np.quantile(null_scores, settings.null_quantile)),
            "null_scores": null_scores.tolist(), "score_first_fold": model_first,
            "p_null": float(norm.sf((model_first - null_scores.mean()) / spread)),
            "p_null_empirical": float((1 + np.sum(null_scores >= model_first))
                                      / (1 + len(null_scores)))}


def _confirmation_test(data, confirmation, target, columns, reference, inputs, make_gbm, families,
                       settings, metric, cache) -> dict:
    """The added value on the held-out confirmation families, fitted on every discovery curve:
    the known inputs with the features against the pair's best baseline (``reference``)."""
    known_held, both_held = _known_fits(data, confirmation, target, columns, reference, inputs,
                                        make_gbm, families, cache)
    confirm_boot = ClassBootstrap(target.task, confirmation[TARGET].to_numpy(),
                                  family_index(confirmation), settings.bootstrap, settings.seed)
    confirmed = _gain(confirm_boot, both_held, known_held, metric)
    return {"confirmation_curves": len(confirmation),
            "confirmation_added_value": confirmed["gain"], "confirmation_low": confirmed["low"],
            "confirmation_high": confirmed["high"], "p_confirmation": confirmed["p"],
            "p_confirmation_empirical": confirmed["p_empirical"]}


def _extrapolation_test(target, make, baselines, oof, settings, metric, cache) -> dict:
    """Trained on the families that start at the smaller conductors, the GBM on what the pair
    knows with the features (``make``) and every baseline scored on those that start above
    the cut (:func:`models.splits.extrapolation_test`)."""
    data, y, families = oof.data, oof.y, oof.families
    test = extrapolation_test(data["conductor"].to_numpy(), families,
                              settings.extrapolation_share)
    ex = ClassBootstrap(target.task, y[test], families[test], settings.bootstrap, settings.seed)
    searched = make()
    ex_model = _shared(cache, ("extrapolation", "known + features", *searched.columns),
                       lambda: searched.fit(data.filter(~test), TARGET, families[~test])
                       .predict(data.filter(test)))
    ex_point, ex_boot = _scored(ex, ex_model, metric)
    ex_scores = {}
    for baseline in baselines:
        if is_the_model(baseline, searched):
            ex_scores[baseline.name] = ex_point, ex_boot
            continue
        extra = {"classes": families[~test]} if isinstance(baseline, GbmModel) else {}
        predicted = _shared(
            cache, ("extrapolation", *baseline_key(baseline)),
            lambda b=baseline, e=extra: b.fit(data.filter(~test), TARGET, **e)
            .predict(data.filter(test)))
        ex_scores[baseline.name] = _scored(ex, predicted, metric)
    ex_best = max(ex_scores, key=lambda name: ex_scores[name][0][metric])
    ex_difference = ex_boot - ex_scores[ex_best][1]
    return {"extrapolation_score": ex_point[metric], "extrapolation_baseline": ex_best,
            "extrapolation_baseline_score": ex_scores[ex_best][0][metric],
            "extrapolation_effect_low": interval(ex_difference)[0],
            "extrapolation_effect_high": interval(ex_difference)[1]}
