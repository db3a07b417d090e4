"""Scores with bootstrap confidence intervals over clusters of curves (twist families, or
isogeny classes).

Classification: Matthews correlation coefficient (multiclass form, Gorodkin 2004) and balanced
accuracy; regression: R² and mean absolute error. The primary score (MCC, R²) is 0 for a
constant prediction and 1 for a perfect one.

Uncertainty: curves of one isogeny class are not independent (they share the L-function), nor
are a curve and its quadratic twists (a_p(E^d) = χ_d(p)·a_p(E)), so the bootstrap resamples
whole clusters, the twist families the engine splits by (a cluster bootstrap). Every score is
a function of per-cluster sufficient statistics (confusion counts; sums of y, y², squared and
absolute errors), so a resample is a weighted sum of those: B resamples cost one matrix product.
The same resamples serve every predictor of a target, which makes differences paired.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from models.baselines import Task

PRIMARY = {"classification": "mcc", "regression": "r2"}


def _mcc(confusion: np.ndarray) -> np.ndarray:
    """MCC from (..., K, K) confusion counts (rows true, columns predicted)."""
    total = confusion.sum(axis=(-1, -2))
    correct = np.trace(confusion, axis1=-2, axis2=-1)
    true, predicted = confusion.sum(axis=-1), confusion.sum(axis=-2)
    numerator = correct * total - (true * predicted).sum(axis=-1)
    denominator = np.sqrt((total ** 2 - (predicted ** 2).sum(axis=-1))
                          * (total ** 2 - (true ** 2).sum(axis=-1)))
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float),
                     where=denominator > 0)


def _balanced_accuracy(confusion: np.ndarray) -> np.ndarray:
    true = confusion.sum(axis=-1)
    recall = np.divide(np.diagonal(confusion, axis1=-2, axis2=-1), true,
                       out=np.zeros_like(true, dtype=float), where=true > 0)
    return recall.sum(axis=-1) / np.maximum((true > 0).sum(axis=-1), 1)


@dataclass
class ClassBootstrap:
    """Scores of predictions of one target ``y`` on rows grouped into isogeny classes."""
    task: Task
    y: np.ndarray
    classes: np.ndarray
    resamples: int
    seed: int
    #: optional row weights (e.g. importance weights onto another sample): every count, sum
    #: and sum of squares behind a score is weighted, so MCC and R² become their weighted forms
    weights: np.ndarray | None = None

    def __post_init__(self):
        _, self._class = np.unique(self.classes, return_inverse=True)
        n = self._class.max() + 1
        rng = np.random.default_rng(self.seed)
        self._weights = rng.multinomial(n, np.full(n, 1 / n), size=self.resamples).astype(float)
        if self.task == "classification":
            self.labels, self._y = np.unique(self.y, return_inverse=True)

    def _statistics(self, prediction: np.ndarray) -> np.ndarray:
        n = self._class.max() + 1
        if self.task == "classification":
            k = len(self.labels)
            predicted = np.searchsorted(self.labels, prediction)
            unknown = (predicted >= k) | (self.labels[np.minimum(predicted, k - 1)] != prediction)
            predicted = np.where(unknown, k, predicted)            # a label never seen: a miss
            cells = self._class * (k * (k + 1)) + self._y * (k + 1) + predicted
            counts = np.bincount(cells, self.weights, minlength=n * k * (k + 1))
            return counts.reshape(n, -1).astype(float)
        error = self.y - prediction
        weight = np.ones_like(self.y, dtype=float) if self.weights is None else self.weights
        columns = [weight, self.y, self.y ** 2, error ** 2, np.abs(error)]
        return np.stack([np.bincount(self._class, c * (weight if i else 1), minlength=n)
                         for i, c in enumerate(columns)], axis=1)

    def _scores(self, statistics: np.ndarray) -> dict[str, np.ndarray]:
        if self.task == "classification":
            k = len(self.labels)
            confusion = statistics.reshape(*statistics.shape[:-1], k, k + 1)
            square = np.concatenate([confusion, np.zeros((*confusion.shape[:-2], 1, k + 1))],
                                    axis=-2)
            return {"mcc": _mcc(square), "balanced_accuracy": _balanced_accuracy(square)}
        count, total, squares, sse, sae = np.moveaxis(statistics, -1, 0)
        sst = squares - total ** 2 / count
        return {"r2": 1 - np.divide(sse, sst, out=np.ones_like(sse), where=sst > 0),
                "mae": sae / count}

    def score(self, prediction: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """(point scores, the same scores on every class resample)."""
        per_class = self._statistics(np.asarray(prediction))
        point = {k: float(v) for k, v in self._scores(per_class.sum(axis=0)).items()}
        return point, self._scores(self._weights @ per_class)


#: The power at which a result that is not significant states the effect it could detect.
POWER = 0.9


def minimum_detectable(se: float, alpha: float, power: float = POWER) -> float:
    """The smallest true difference a one-sided z-test at level ``alpha`` detects with
    probability ``power``, for a difference with standard error ``se``:
    (z_{1−α} + z_{power})·se (Bloom 1995, "Minimum detectable effects", Evaluation Review
    19(5):547–556; Cohen 1988, ch. 1)."""
    return float((norm.isf(alpha) + norm.ppf(power)) * se)


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval."""
    tail = (1 - level) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def point_scores(task: Task, y: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """The scores of ``prediction`` without resampling."""
    return ClassBootstrap(task, y, np.zeros(len(y), dtype=int), 1, 0).score(prediction)[0]
