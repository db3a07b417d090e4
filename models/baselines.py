"""Heuristic baselines: what known mathematics or a trivial model already predicts.

The conductor-only baseline is the searched GBM itself (:class:`models.gbm.GbmModel`, same
settings) restricted to the conductor features: a target it predicts is explained by conductor
bias (the tables hold every curve up to a conductor bound, and most invariants drift with N),
and a model on conductor features cannot beat it by capacity alone.

Each baseline is a predictor with the interface of the real models (:class:`Predictor`):
``fit(frame, target)`` on a training frame (features joined with the BSD table), then
``predict(frame)`` returns one value per row, a class label for a classification target or a
number for a regression target. So a model's score always sits beside the score of the best
applicable baseline on the same split. Which baselines a pair gets is declared once, by the
laws they implement (:mod:`models.laws`: the targets a law speaks about and the columns it
reads), not by the baselines.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import polars as pl

from models.sato_tate import hasse_bound, torsion_modulus, trace_distribution

Task = Literal["classification", "regression"]

#: Targets fixed by the root number through the parity conjecture, (-1)^rank = w.
PARITY_TARGETS = {"rank", "rank_parity", "root_number"}


class Predictor(Protocol):
    name: str
    task: Task

    def fit(self, frame: pl.DataFrame, target: str) -> "Predictor": ...
    def predict(self, frame: pl.DataFrame) -> np.ndarray: ...


def _matrix(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    return frame.select(columns).to_numpy().astype(np.float64)


@dataclass
class ConstantBaseline:
    """The majority class, or the mean: what any model must beat to have learnt anything."""
    task: Task
    name: str = "constant"
    words: str = "the training mean (the most frequent class)"


    def fit(self, frame: pl.DataFrame, target: str) -> "ConstantBaseline":
        # scikit-learn (about 1 s to import, scipy.stats with it) is imported where a baseline
        # is fitted: the params schema and every stage read the law records without it
        from sklearn.dummy import DummyClassifier, DummyRegressor

        self._model = (DummyClassifier(strategy="most_frequent") if self.task == "classification"
                       else DummyRegressor(strategy="mean"))
        self._model.fit(np.zeros((len(frame), 1)), frame[target].to_numpy())
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self._model.predict(np.zeros((len(frame), 1)))


@dataclass
class BsdIdentityBaseline:
    """A linear model (logistic for classes) on the logs of the other BSD quantities.

    The BSD formula L^(r)(E,1)/r! = Ω·R·∏c_p·#Sha / #T² is linear in the logs, so
    ``log_sha_an`` (say) is an exact linear function of the other five logs: a "finding" that
    predicts Sha from them is the BSD identity, not a discovery. ``columns`` must not contain
    the target or a function of it (the caller removes them)."""
    task: Task
    columns: list[str]
    name: str = "BSD identity"

    @property
    def words(self) -> str:
        return "a linear model on the logs of " + ", ".join(self.columns)


    def fit(self, frame: pl.DataFrame, target: str) -> "BsdIdentityBaseline":
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = (LogisticRegression(max_iter=1000) if self.task == "classification"
                 else LinearRegression())
        self._model = make_pipeline(StandardScaler(), model)
        self._model.fit(_matrix(frame, self.columns), frame[target].to_numpy())
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self._model.predict(_matrix(frame, self.columns))


@dataclass
class ParityBaseline:
    """The parity conjecture (−1)^rank = w(E) (Dokchitser–Dokchitser 2010: true whenever
    Sha is finite), used as the *minimalist* rank model: rank 0 if w = +1 and rank 1 if w = −1
    (Goldfeld's conjecture: asymptotically 100% of curves have rank ≤ 1).

    ``predicts`` names the quantity: for ``rank_parity`` the prediction is exact, for ``rank``
    it is the minimalist conjecture (from the root number), for ``root_number`` it reads the
    rank: w = (−1)^rank."""
    predicts: str
    task: Task = "classification"
    name: str = "parity"
    words: str = "parity (−1)^rank = w(E): rank 0 if w = +1, 1 if w = −1"

    def __post_init__(self):
        if self.predicts not in PARITY_TARGETS:
            raise ValueError(f"the parity baseline predicts {sorted(PARITY_TARGETS)}, "
                             f"not {self.predicts!r}")


    def fit(self, frame: pl.DataFrame, target: str) -> "ParityBaseline":
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        if self.predicts == "root_number":
            return np.where(frame["rank"].to_numpy() % 2 == 0, 1, -1)
        return (1 - frame["root_number"].to_numpy()) // 2


@dataclass
class MestreNagaoBaseline:
    """Rank from thresholds on a single Mestre–Nagao sum (Mestre 1985; Nagao 1997;
    Kazalicki–Vlah 2023): for each sum, a one-feature decision tree with one leaf per rank
    (its splits are the thresholds); the sum whose tree classifies the training set best
    (balanced accuracy) is kept."""
    columns: list[str]
    task: Task = "classification"
    name: str = "Mestre-Nagao"
    words: str = "thresholds on the best single Mestre–Nagao sum"


    def fit(self, frame: pl.DataFrame, target: str) -> "MestreNagaoBaseline":
        from sklearn.tree import DecisionTreeClassifier

        y = frame[target].to_numpy()
        best = None
        for column in self.columns:
            x = _matrix(frame, [column])
            tree = DecisionTreeClassifier(max_leaf_nodes=max(2, len(np.unique(y))),
                                          class_weight="balanced", random_state=0).fit(x, y)
            predicted = tree.predict(x)
            score = np.mean([np.mean(predicted[y == k] == k) for k in np.unique(y)])
            if best is None or score > best[0]:
                best = (score, column, tree)
        _, self.column, self._tree = best
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self._tree.predict(_matrix(frame, [self.column]))


@dataclass
class SatoTateBaseline:
    """a_p at a held-out good prime p by its expectation under the Sato–Tate law, conditioned
    on Hasse's bound |a_p| <= 2√p and on the congruence forced by rational torsion: for good
    p > 2, E(Q)_tors injects into E(F_p) (Silverman VII.3.1), so #T divides p + 1 − a_p.

    Regression predicts the conditional mean, classification the conditional mode. With
    ``knows_conductor`` the rows where p is bad (p | N, target = w_p = ±1 in the aplist
    convention) get the training mean / mode of w_p; without it, the group does not give N
    (the BSD quantities), so every row is taken good and the conductor is never read."""
    prime: int
    task: Task = "regression"
    knows_conductor: bool = True
    name: str = "Sato-Tate"
    _bad_value: float = field(default=0.0, init=False)

    def __post_init__(self):
        if not self.knows_conductor:
            self.name = "Sato-Tate, every prime taken good"

    @property
    def words(self) -> str:
        bad = ("; at p | N, the training mean of w_p" if self.knows_conductor else
               "; the conductor unknown, p taken good")
        return f"the Sato–Tate mean of a_p given Hasse's bound and #T | p + 1 − a_p{bad}"


    def _bad(self, frame: pl.DataFrame) -> np.ndarray:
        if not self.knows_conductor:
            return np.zeros(len(frame), dtype=bool)
        return frame["conductor"].to_numpy() % self.prime == 0

    def fit(self, frame: pl.DataFrame, target: str) -> "SatoTateBaseline":
        values = frame[target].to_numpy()[self._bad(frame)]
        if len(values):
            uniques, counts = np.unique(values, return_counts=True)
            self._bad_value = (uniques[np.argmax(counts)] if self.task == "classification"
                               else float(values.mean()))
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        moduli = torsion_modulus(frame["torsion"].to_numpy(), self.prime)
        support = np.arange(-hasse_bound(self.prime), hasse_bound(self.prime) + 1)
        expected = {}
        for modulus in np.unique(moduli):
            weights = trace_distribution(self.prime, int(modulus))
            expected[modulus] = (support[np.argmax(weights)] if self.task == "classification"
                                 else float(weights @ support))
        good_value = np.array([expected[m] for m in moduli])
        return np.where(self._bad(frame), self._bad_value, good_value)


@dataclass
class LocalRootNumberBaseline:
    """The root number as the product of local root numbers, w(E) = −∏_{p | N} w_p
    (Rohrlich 1993; the −1 is w_∞), read from ``root_number_from_ap``: the product over the
    bad primes the ``ap_<p>`` columns list, where Cremona's aplist puts w_p
    (:func:`models.known_quantities.local_root_number`). Exact when every bad prime is
    <= primes_max. Gives ``root_number``, and through parity ``rank_parity`` and the
    minimalist ``rank``."""
    predicts: str
    task: Task = "classification"
    name: str = "local root numbers"
    words: str = "w(E) = −∏ w_p over the bad primes the a_p columns list"


    def fit(self, frame: pl.DataFrame, target: str) -> "LocalRootNumberBaseline":
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        root_number = frame["root_number_from_ap"].to_numpy().astype(np.int64)
        return root_number if self.predicts == "root_number" else (1 - root_number) // 2


@dataclass
class TorsionCongruenceBaseline:
    """Torsion from the congruences #T | #E(F_p) = p + 1 − a_p at good p >= 3 (Silverman
    VII.3.1): m = ``torsion_bound``, the gcd of p + 1 − a_p over the good primes
    3 <= p <= primes_max (:func:`models.features.torsion_bound`), an isogeny invariant multiple
    of #T; the prediction is the training set's most frequent torsion order among curves with
    the same m (the overall mode for an m not seen in training)."""
    task: Task = "classification"
    name: str = "torsion congruences"
    words: str = "the most frequent #T given gcd(p + 1 − a_p) over good p >= 3"


    def _gcd(self, frame: pl.DataFrame) -> np.ndarray:
        return frame["torsion_bound"].to_numpy()

    def fit(self, frame: pl.DataFrame, target: str) -> "TorsionCongruenceBaseline":
        table = pl.DataFrame({"m": self._gcd(frame), "t": frame[target].to_numpy()})
        modes = table.group_by("m").agg(pl.col("t").mode().min())
        self._mode = dict(zip(modes["m"].to_list(), modes["t"].to_list()))
        self._default = table["t"].mode().min()
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return np.array([self._mode.get(m, self._default) for m in self._gcd(frame).tolist()])
