"""A pair's result: every statistic :func:`models.findings.evaluate` computes for one (target,
search group), as one typed record, and the schema of the evaluations table whose rows they are.

The train stage writes each record to its cache as JSON (:meth:`PairResult.row`), reads it
back (:meth:`PairResult.from_row`) and publishes the records as ``paths.evaluations``, one row
each, with :data:`EVALUATION_SCHEMA`; :func:`models.verdicts.decide` decides over those rows.
Statistics of the tests a screened pair skips (:func:`models.findings.screened`) are None.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class PairResult:
    """The statistics of one pair, in the order of the evaluations table's columns."""
    # the question
    target: str
    group: str
    task: str
    metric: str                       # the primary metric: MCC or R² (models.scores.PRIMARY)
    features: int
    curves: int                       # discovery curves with the target
    gbm_rounds: int                   # median boosting rounds early stopping kept per fold
    # the model and the best baseline, out of fold, with family-bootstrap intervals
    score: float
    scores: str                       # JSON: every metric of the model
    baseline_all_scores: str          # JSON: every metric of the best baseline
    score_low: float
    score_high: float
    best_baseline: str
    baseline_score: float
    baseline_low: float
    baseline_high: float
    baseline_scores: str              # JSON: each baseline's score
    baseline_inputs: str              # JSON: what each baseline reads, in words
    # what the pair knows, and the law that does best among its baselines
    best_baseline_kind: str           # the best baseline's law, or ""
    known_quantities: str             # JSON list
    known_inputs: str                 # JSON list: the known GBM's inputs
    known_formula: str | None
    known_formula_kind: str
    known_formula_score: float | None
    related_laws: str                 # JSON list: laws of the target that read more
    exact_law: str | None             # a law that computes the target on every curve
    # the added value of the features beyond everything the pair knows
    known_gbm_score: float | None
    known_plus_features_score: float | None
    added_value: float
    added_value_low: float
    added_value_high: float
    added_value_se: float
    p_added: float
    p_added_empirical: float
    # the null model, the effect size, the p-values
    null_model: str
    null_scores: list[float]
    null_level: float
    effect: float
    effect_low: float
    effect_high: float
    p_baseline: float
    p_baseline_empirical: float
    p_value: float
    p_methods: str                    # JSON: each p-value's method
    strata: list[dict]                # model and baseline by conductor stratum
    # the null datasets, the confirmation and the extrapolation (None when screened)
    null_mean: float | None = None
    null_quantile: float | None = None
    score_first_fold: float | None = None
    p_null: float | None = None
    p_null_empirical: float | None = None
    confirmation_curves: int | None = None
    confirmation_added_value: float | None = None
    confirmation_low: float | None = None
    confirmation_high: float | None = None
    p_confirmation: float | None = None
    p_confirmation_empirical: float | None = None
    extrapolation_score: float | None = None
    extrapolation_baseline: str | None = None
    extrapolation_baseline_score: float | None = None
    extrapolation_effect_low: float | None = None
    extrapolation_effect_high: float | None = None
    screened: bool = False
    # added by the train stage
    seconds: float | None = None
    classes: list[int] | None = None  # a classification's classes, in the model's order

    def row(self) -> dict:
        """The record as a row of the evaluations table (and as its cache file's JSON)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_row(cls, row: dict) -> "PairResult":
        """The record of a row; a TypeError names a column the record does not have."""
        return cls(**row)

    def with_statistics(self, **statistics) -> "PairResult":
        """The record with some statistics set (the later tests', the train stage's)."""
        return dataclasses.replace(self, **statistics)


#: The conductor strata's columns (:func:`models.findings.stratum_scores`).
STRATUM = pl.Struct({"conductor_low": pl.Int64, "conductor_high": pl.Int64, "curves": pl.Int64,
                     "model": pl.Float64, "baseline": pl.Float64})
_DTYPES = {"str": pl.String, "str | None": pl.String, "int": pl.Int64, "int | None": pl.Int64,
           "float": pl.Float64, "float | None": pl.Float64, "bool": pl.Boolean,
           "list[float]": pl.List(pl.Float64), "list[int] | None": pl.List(pl.Int64),
           "list[dict]": pl.List(STRATUM)}
#: The evaluations table's columns, from the record's fields.
EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    field.name: _DTYPES[field.type] for field in dataclasses.fields(PairResult)}


def evaluations_table(results: list[PairResult]) -> pl.DataFrame:
    """The evaluations table of ``results``, one row each, with :data:`EVALUATION_SCHEMA`."""
    return pl.DataFrame([result.row() for result in results], schema=EVALUATION_SCHEMA)
