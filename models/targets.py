"""The targets of the search: what is predicted, as what kind of task, and what must not be used.

A target is never predicted from a feature that contains it or is a deterministic function of
it (``excluded``): log_regulator = 0 exactly when the rank is 0, the Mestre–Nagao sums with
B >= p contain a_p, and the real period is computed from the Weierstrass equation in closed
form (the AGM of the real roots), so it is never predicted from the Weierstrass features.
Every target names its quasirandom null model: the structure that null keeps is what a model
must beat.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from arithmetic.bsd_ratio import log_bsd_ratio
from arithmetic.weierstrass import WEIERSTRASS_COLUMNS
from machinery import expression as language
from machinery.expression import TargetError, declared_sources, parse_declared
from models.baselines import Task
from models.features import MESTRE_NAGAO_SUMS, ap_norm_column, mestre_nagao_column

Null = Literal["permutation", "minimalist_rank", "delaunay_sha", "sato_tate"]


@dataclass(frozen=True)
class Target:
    name: str
    task: Task
    expression: pl.Expr
    excluded: tuple[str, ...]
    sources: tuple[str, ...]
    null: Null = "permutation"
    description: str = ""
    #: A declared target's parsed expression (:mod:`machinery.expression`); None for a built-in.
    tree: language.Node | None = None

    @property
    def definition(self) -> str:
        """What the target computes, literals included, for the keys of cached results: a
        declared target's canonical text, else the digest of polars' serialization of the
        expression (its printed form can hide constants, such as an ``is_in`` list)."""
        if self.tree is not None:
            return language.canonical(self.tree)
        return hashlib.sha256(self.expression.meta.serialize()).hexdigest()

    @property
    def permuted(self) -> list[str]:
        """The columns a permutation null moves between classes: the target's sources and the
        features that are functions of it."""
        return list(dict.fromkeys([*self.sources, *self.excluded]))


def held_out_trace(p: int, bounds: list[int]) -> Target:
    """a_p at the prime p from the other features: a_p itself, a_p/2√p and every Mestre–Nagao
    sum over a range containing p are excluded."""
    sums = tuple(mestre_nagao_column(s, b) for b in bounds if b >= p for s in MESTRE_NAGAO_SUMS)
    return Target(f"ap_{p}", "regression", pl.col(f"ap_{p}").cast(pl.Float64),
                  (f"ap_{p}", ap_norm_column(p), *sums), (f"ap_{p}",), "sato_tate",
                  f"a_p at the held-out prime p = {p} (w_p where p is bad)")


def standard_targets(held_out_prime: int, bounds: list[int]) -> dict[str, Target]:
    """The targets of the search: rank and its parity, torsion, Sha, Tamagawa product, period,
    regulator, special value, root number, the BSD ratio, and a_p at a held-out prime."""
    log = lambda name: pl.col(name).cast(pl.Float64).log()  # noqa: E731
    targets = [
        Target("rank", "classification", pl.col("rank").clip(0, 2).cast(pl.Int64),
               ("rank", "log_regulator"), ("rank",), "minimalist_rank",
               "analytic rank (2 means >= 2)"),
        Target("rank_parity", "classification", (pl.col("rank") % 2).cast(pl.Int64), ("rank",),
               ("rank",), "minimalist_rank", "parity of the analytic rank"),
        Target("torsion", "classification", pl.col("torsion").cast(pl.Int64), ("log_torsion",),
               ("torsion",), description="order of the torsion subgroup"),
        Target("sha_gt_1", "classification", (pl.col("sha") > 1).cast(pl.Int64), ("log_sha_an",),
               ("sha", "sha_an"), "delaunay_sha", "Sha nontrivial (analytic order > 1)"),
        Target("log_sha_an", "regression", log("sha_an"), ("log_sha_an",), ("sha", "sha_an"),
               "delaunay_sha", "log of the analytic order of Sha"),
        Target("log_tamagawa_product", "regression", log("tamagawa_product"),
               ("log_tamagawa_product",), ("tamagawa_product",),
               description="log of the Tamagawa product"),
        Target("log_real_period", "regression", log("real_period"),
               ("log_real_period", *WEIERSTRASS_COLUMNS), ("real_period",),
               description="log of Ω times the number of real components (never from the "
                           "Weierstrass features: Ω is computed from them by the AGM)"),
        Target("log_regulator", "regression", log("regulator"), ("log_regulator",),
               ("regulator",), description="log of the regulator (0 for rank 0)"),
        Target("log_special_value", "regression", log("special_value"), ("log_special_value",),
               ("special_value",), description="log of L^(r)(E,1)/r!"),
        Target("root_number", "classification", pl.col("root_number").cast(pl.Int64),
               ("root_number",), ("root_number",), description="global root number w(E)"),
        Target("log_bsd_ratio", "regression", log_bsd_ratio(),
               ("log_special_value", "log_real_period", "log_regulator"),
               ("special_value", "real_period", "regulator"),
               description="log of L^(r)(E,1)/(r! Ω R) = log(Sha ∏c_p / #T²)"),
        held_out_trace(held_out_prime, bounds),
    ]
    return {t.name: t for t in targets}


#: A classification target may have at most this many classes unless params say otherwise.
MAX_CLASSES = 50
#: LightGBM fits float32 labels: a regression target beyond this overflows to infinity.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def sql_target(name: str, task: Task, expression: str, excluded: list[str], null: Null,
               description: str, feature_groups: dict[str, list[str]] | None = None) -> Target:
    """A target declared in params.yaml: ``expression`` is an expression of the closed language
    of :mod:`machinery.expression` over the columns of the curve tables (parsed there, never by a
    SQL engine or Python). The columns it reads are its ``sources`` (what a permutation null
    moves); ``excluded`` are features that contain it, feature group names standing for their
    columns, and every source that is itself a feature is excluded too."""
    tree = parse_declared(name, expression)
    parsed = language.to_polars(tree)
    sources = declared_sources(name, expression, tree)
    groups = feature_groups or {}
    features = {c for columns in groups.values() for c in columns}
    excluded_columns = [c for item in excluded for c in groups.get(item, [item])]
    excluded_columns += [c for c in sources if c in features]
    if task == "classification":
        value = parsed.cast(pl.Int64)
    else:                     # log 0 and 0/0 are no values: such curves have no target
        value = pl.when(parsed.cast(pl.Float64).is_finite()).then(parsed.cast(pl.Float64))
    return Target(name, task, value, tuple(dict.fromkeys(excluded_columns)), sources, null,
                  description or expression, tree)


def check_target_values(target: Target, frame: pl.DataFrame,
                        max_classes: int = MAX_CLASSES) -> None:
    """Refuse a declared target whose values on ``frame`` (the model frame) are unusable: a
    column it reads is missing, a type error, all null, or one value on every curve; a
    classification whose values are not integers or fall into more than ``max_classes``
    classes (each class costs a tree per boosting round, and the class bootstrap a matrix per
    class); a regression beyond float32's range, where LightGBM's labels overflow."""
    where = f"search.custom_targets.{target.name}"
    missing = [c for c in target.sources if c not in frame.columns]
    if missing:
        raise TargetError(f"{where}.expression: no column {', '.join(map(repr, missing))} in the "
                          f"curve tables (bsd, invariants, features)")
    try:
        if target.task == "classification" and target.tree is not None:
            _check_integers(target, frame)
        values = frame.select(target.expression.alias("value"))["value"]
    except pl.exceptions.PolarsError as err:
        raise TargetError(f"{where}.expression: {str(err).splitlines()[0]} (columns "
                          f"{', '.join(target.sources)})") from None
    known = values.drop_nulls()
    if target.task == "regression":
        known = known.filter(known.is_finite())
    if known.is_empty():
        raise TargetError(f"{where}.expression: null (or not finite) on every curve "
                          f"(columns {', '.join(target.sources)})")
    if known.n_unique() == 1:
        raise TargetError(f"{where}.expression: the constant {known[0]} on every curve")
    if target.task == "classification" and known.n_unique() > max_classes:
        raise TargetError(f"{where}.task: classification into {known.n_unique()} classes, more "
                          f"than search.max_classes ({max_classes}); group the values into "
                          "fewer classes, or declare it a regression")
    if target.task == "regression" and known.abs().max() > FLOAT32_MAX:
        raise TargetError(f"{where}.expression: values up to {known.abs().max():.3g} in "
                          f"absolute value, beyond float32's {FLOAT32_MAX:.3g} (LightGBM fits "
                          "float32 labels); rescale it, e.g. with ln(...)")


def _check_integers(target: Target, frame: pl.DataFrame) -> None:
    """A declared classification's values before the cast to classes: a float that is not an
    integer would be truncated into a class it does not name."""
    raw = frame.select(language.to_polars(target.tree).alias("value"))["value"].drop_nulls()
    if not raw.dtype.is_float():
        return
    fractional = raw.filter(~raw.is_finite() | (raw != raw.floor()))
    if len(fractional):
        raise TargetError(f"search.custom_targets.{target.name}.task: classification, but the "
                          f"expression takes the non-integer value {fractional[0]}: declare it "
                          "a regression, or round it into classes")
