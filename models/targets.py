"""The targets of the search: what is predicted, as what kind of task, and what must not be used.

A target is never predicted from a feature that contains it or is a deterministic function of
it (``excluded``): log_regulator = 0 exactly when the rank is 0, the Mestre–Nagao sums with
B >= p contain a_p, and the real period is computed from the Weierstrass equation in closed
form (the AGM of the real roots), so it is never predicted from the Weierstrass features. Every target names its quasirandom null model: the structure that null
keeps is what a model must beat.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from arithmetic.weierstrass import WEIERSTRASS_COLUMNS
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
    """The targets of the search: rank and its parity, torsion, Sha, Tamagawa product, period, regulator,
    special value, root number, the BSD ratio, and a_p at a held-out prime."""
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
        Target("log_bsd_ratio", "regression",
               log("special_value") - log("real_period") - log("regulator"),
               ("log_special_value", "log_real_period", "log_regulator"),
               ("special_value", "real_period", "regulator"),
               description="log of L^(r)(E,1)/(r! Ω R) = log(Sha ∏c_p / #T²)"),
        held_out_trace(held_out_prime, bounds),
    ]
    return {t.name: t for t in targets}
