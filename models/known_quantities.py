r"""Known mathematics first: what a number theorist computes *exactly* from each feature group,
and the closed forms that turn those known quantities into a prediction of a target.

A finding is only meaningful when a group's features carry information beyond what is already
computed exactly from them (Sawin's warning: know the trivial bounds and quasirandom models a
prediction must beat). The Weierstrass equation determines every invariant of the curve, so
from the ``weierstrass`` group the following are *known*, each by an exact algorithm:

- the conductor N and the bad primes, the reduction types, the Kodaira symbols and the
  Tamagawa numbers c_p, hence ∏c_p (Tate's algorithm; Silverman, *Advanced Topics*, IV.9;
  Cremona, *Algorithms for Modular Elliptic Curves*, 2nd ed., §3.2);
- the torsion subgroup E(Q)_tors, its order #T and structure (Nagell–Lutz and division
  polynomials; Cremona §3.3);
- the real period Ω times the number of real components (the AGM; Cremona §3.7);
- the global root number w and the local root numbers w_p (Rohrlich 1993; Cremona §3.2),
  hence also w as the product read from the a_p columns (:func:`local_root_number`), which
  the ``ap`` group knows as well;
- the minimal discriminant Δ_min (Tate's algorithm) and a_p at every prime (point counts);
- the central L-series sums L(E,1) = (1 + w) Σ (a_n/n) e^{−2πn/√N} and L'(E,1) = 2 Σ (a_n/n)
  E₁(2πn/√N), summed to as many terms as √N requires (Cremona §2.11;
  :func:`arithmetic.lseries.terms_needed`), and from them the analytic rank r <= 1 (or
  "r >= 2" when both vanish);
- the invariants of the ``invariants`` stage (:mod:`arithmetic.invariants`, whose docstrings
  give the references): the modular degree (Watkins, Experiment. Math. 11, 2002), the isogeny
  class and its matrix (Vélu 1971), Γ₀(N)-optimality, the Szpiro ratio log|Δ_min|/log N, the
  heights of the low zeros of L(E, s) and the 2-Selmer rank (2-descent);
- the BSD formula with #Ш = 1 (Birch–Swinnerton-Dyer; Cremona §3.8):
  log #Ш = log L(E,1) + 2 log #T − log Ω − log ∏c_p at r = 0, and
  log R = log L'(E,1) − log Ω − log ∏c_p + 2 log #T at r = 1.

From the a_p at the primes p <= B alone (``ap``): the local root numbers w_p at the bad primes
they list (Cremona's aplist stores w_p there), the torsion bound gcd(#E(F_p)) (Silverman
VII.3.1: E(Q)_tors injects into E(F_p) at good p > 2), and the Mestre–Nagao sums (Mestre 1985;
Nagao 1997). Every other group derives nothing beyond its own columns: the laws among them (the
BSD formula among the BSD quantities, the parity conjecture from the root number) are
:mod:`models.laws`, which apply to a pair only when its group determines what they read.

Each known quantity is a column of the model frame: computed by PARI in the bsd and features
stages, or derived here from those columns (:func:`with_derived`). Each feature group's record
(:mod:`arithmetic.feature_groups`) declares what it knows; :data:`FORMULAS` is the one list of
closed forms.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from arithmetic.feature_groups import group


#: A sum below this is a vanishing L'(E,1): the sums are accurate to about 1e-13 at the
#: tolerance of ``features.l_series_tolerance``, and at rank 1 L'(E,1) = Ω·R·#Ш·∏c_p/#T²
#: exceeds 1e-4 on every rank-1 curve of conductor below 10,000 (tests/test_known_quantities.py).
DERIVATIVE_VANISHES = 1e-9


def known_columns(members: list[str], columns: list[str]) -> list[str]:
    """The known quantities of a search group made of the feature groups ``members``: the
    columns of ``columns`` (the model frame's) that some member's declaration matches."""
    patterns = [p for member in members for p in group(member).known]
    return [c for c in columns if any(re.fullmatch(p, c) for p in patterns)]


def local_root_number(frame: pl.DataFrame, primes: list[int]) -> np.ndarray:
    """w(E) = −∏_{p | N} w_p (Rohrlich 1993; the −1 is w_∞), with w_p read from the ``ap_<p>``
    columns at the bad primes p in ``primes`` (Cremona's aplist convention); bad primes beyond
    them count as w_p = +1, so the product is exact when every bad prime is listed."""
    signs = frame.select([f"ap_{p}" for p in primes]).to_numpy()
    bad = frame["conductor"].to_numpy()[:, None] % np.asarray(primes)[None, :] == 0
    return -np.prod(np.where(bad, signs, 1), axis=1)


def analytic_rank_l() -> pl.Expr:
    """The analytic rank from the central sums: 0 when w = +1 and L(E,1) >= Ω/(2·#T²), 1 when
    w = −1 and L'(E,1) > :data:`DERIVATIVE_VANISHES`, else 2 (w = +1) or 3 (w = −1). At rank 0
    BSD gives L(E,1) = Ω·#Ш·∏c_p/#T² >= Ω/#T², so a sum below half of that vanishes."""
    omega_bound = (pl.col("log_real_period") - 2 * pl.col("log_torsion")).exp() / 2
    return (pl.when(pl.col("root_number") == 1)
            .then(pl.when(pl.col("l_series_0") >= omega_bound).then(0).otherwise(2))
            .otherwise(pl.when(pl.col("l_series_1") > DERIVATIVE_VANISHES).then(1).otherwise(3))
            .cast(pl.Int8))


def with_derived(frame: pl.DataFrame) -> pl.DataFrame:
    """The model frame with the derived known quantities: ``torsion_noncyclic`` (E(Q)_tors ≅
    Z/2 × Z/2m), ``analytic_rank_l``, ``log_l_value`` (log L^(r)(E,1)/r! for r <= 1), the BSD
    formula with #Ш = 1 (``bsd_log_sha_rank0``, ``bsd_log_regulator_rank1``), and
    ``root_number_from_ap`` (:func:`local_root_number` over the a_p columns)."""
    primes = sorted(int(c[3:]) for c in frame.columns if re.fullmatch(r"ap_\d+", c))
    rank = analytic_rank_l()
    local = (pl.col("log_tamagawa_product") + pl.col("log_real_period")
             - 2 * pl.col("log_torsion"))
    derived = frame.with_columns(
        torsion_noncyclic=(pl.col("torsion_structure").list.len() == 2).cast(pl.Int8),
        analytic_rank_l=rank,
        root_number_from_ap=pl.Series(local_root_number(frame, primes), dtype=pl.Int8))
    return derived.with_columns(
        log_l_value=pl.when(pl.col("analytic_rank_l") == 0).then(pl.col("l_series_0").log())
        .when(pl.col("analytic_rank_l") == 1).then(pl.col("l_series_1").log()),
        bsd_log_sha_rank0=pl.when(pl.col("analytic_rank_l") == 0)
        .then(pl.col("l_series_0").log() - local),
        bsd_log_regulator_rank1=pl.when(pl.col("analytic_rank_l") == 1)
        .then(pl.col("l_series_1").log() - local))


@dataclass
class KnownFormula:
    """A closed form of known mathematics as a predictor (:class:`models.baselines.Predictor`):
    ``formulas`` maps a target to a polars expression over known quantities (``inputs``).
    Where the expression is null (a case the formula does not cover, e.g. the regulator at
    rank >= 2), the prediction is the training mean (mode for classes) of those rows."""
    name: str
    kind: str                               # the verdict's words: "explained by <kind>"
    formulas: dict[str, pl.Expr]
    inputs: list[str]
    words: str                              # what it computes, for the report
    task: str = "regression"                # classification | regression
    _fallback: float = field(default=0.0, init=False)
    _target: str = field(default="", init=False)

    def applies_to(self, target: str) -> bool:
        return target in self.formulas

    def for_target(self, target: str, task: str) -> "KnownFormula":
        copy = KnownFormula(self.name, self.kind, self.formulas, self.inputs, self.words, task)
        copy._target = target
        return copy

    def _raw(self, frame: pl.DataFrame) -> np.ndarray:
        values = frame.select(self.formulas[self._target].cast(pl.Float64)).to_series()
        return values.to_numpy()

    def fit(self, frame: pl.DataFrame, target: str) -> "KnownFormula":
        uncovered = np.isnan(self._raw(frame))
        y = frame[target].to_numpy()[uncovered] if uncovered.any() else frame[target].to_numpy()
        if self.task == "classification":
            values, counts = np.unique(y, return_counts=True)
            self._fallback = values[np.argmax(counts)]
        else:
            self._fallback = float(np.mean(y))
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        values = self._raw(frame)
        predicted = np.where(np.isnan(values), self._fallback, values)
        return np.rint(predicted).astype(np.int64) if self.task == "classification" else predicted


_RANK = pl.col("analytic_rank_l")

#: The closed forms, each with the targets it gives (the search's built-in names) and inputs.
FORMULAS = [
    KnownFormula("Tate's algorithm", "exact local data",
                 {"log_tamagawa_product": pl.col("log_tamagawa_product")},
                 ["log_tamagawa_product"], "∏c_p from Tate's algorithm (PARI elllocalred)"),
    KnownFormula("torsion subgroup", "exact local data",
                 {"torsion": pl.col("log_torsion").exp().round()}, ["log_torsion"],
                 "#E(Q)_tors computed exactly (PARI elltors)"),
    KnownFormula("root number", "exact local data",
                 {"root_number": pl.col("root_number")}, ["root_number"],
                 "w(E) = −∏ w_p (PARI ellrootno)"),
    # The rank's parity from w is the parity conjecture, not local data: its verdict says so.
    KnownFormula("parity conjecture", "parity",
                 {"rank_parity": (1 - pl.col("root_number")) / 2}, ["root_number"],
                 "(−1)^r = w(E) (Dokchitser–Dokchitser 2010: true if Ш is finite)"),
    KnownFormula("real period", "exact local data",
                 {"log_real_period": pl.col("log_real_period")}, ["log_real_period"],
                 "Ω times the real components, by the AGM (PARI ellinit)"),
    KnownFormula("L-series at s = 1", "the L-series",
                 {"rank": _RANK.clip(0, 2), "rank_parity": _RANK % 2,
                  "log_special_value": pl.col("log_l_value")},
                 ["analytic_rank_l", "log_l_value"],
                 "L(E,1) and L'(E,1) summed to √N-many terms: the analytic rank (r <= 1) "
                 "and L^(r)(E,1)/r!"),
    # Not the log BSD ratio itself (arithmetic.bsd_ratio.log_bsd_ratio, the target): its value
    # by the BSD formula with #Ш = 1, log ∏c_p − 2 log #T, from the known quantities alone.
    KnownFormula("BSD formula (Sha = 1)", "the BSD formula",
                 {"log_bsd_ratio": pl.col("log_tamagawa_product") - 2 * pl.col("log_torsion"),
                  "log_regulator": pl.when(_RANK == 0).then(0.0)
                  .otherwise(pl.col("bsd_log_regulator_rank1")),
                  "log_sha_an": pl.when(_RANK == 0).then(pl.col("bsd_log_sha_rank0"))
                  .otherwise(0.0),
                  "sha_gt_1": pl.when(_RANK == 0)
                  .then((pl.col("bsd_log_sha_rank0") > math.log(2)).cast(pl.Float64))
                  .otherwise(0.0)},
                 ["log_tamagawa_product", "log_torsion", "analytic_rank_l",
                  "bsd_log_regulator_rank1", "bsd_log_sha_rank0"],
                 "L^(r)(E,1)/r! = Ω·R·#Ш·∏c_p/#T² with #Ш = 1 (R at r = 1, Ш at r = 0)"),
]


def exact_trace(prime: int) -> KnownFormula:
    """a_p at the held-out prime from the equation: p + 1 − #E(F_p) (w_p where p is bad)."""
    column = f"ap_{prime}"
    return KnownFormula("a_p by point counting", "exact local data",
                        {column: pl.col(column)}, [column],
                        f"a_{prime} = {prime} + 1 − #E(F_{prime}) (PARI ellap)")


def formulas_for(target: str, task: str, known: list[str]) -> list[KnownFormula]:
    """The closed forms that give ``target`` from the known quantities ``known`` alone."""
    candidates = [*FORMULAS, exact_trace(int(target[3:]))] if re.fullmatch(r"ap_\d+", target) \
        else FORMULAS
    return [f.for_target(target, task) for f in candidates
            if f.applies_to(target) and set(f.inputs) <= set(known)]
