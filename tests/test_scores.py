"""Scores agree with scikit-learn; the class bootstrap resamples whole classes."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (balanced_accuracy_score, matthews_corrcoef, mean_absolute_error,
                             r2_score)

from models.scores import ClassBootstrap, interval


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_classification_scores_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 3000)
    prediction = np.where(rng.random(3000) < 0.6, y, rng.integers(0, 5, 3000))   # 4: unseen label
    point, resampled = ClassBootstrap("classification", y, rng.integers(0, 900, 3000), 300, 1) \
        .score(prediction)
    assert point["mcc"] == pytest.approx(matthews_corrcoef(y, prediction))
    assert point["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, prediction))
    low, high = interval(resampled["mcc"])
    assert low < point["mcc"] < high and high - low < 0.1


def test_regression_scores_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.normal(size=2000)
    prediction = y + rng.normal(scale=0.5, size=2000)
    point, _ = ClassBootstrap("regression", y, np.arange(2000) // 3, 100, 1).score(prediction)
    assert point["r2"] == pytest.approx(r2_score(y, prediction))
    assert point["mae"] == pytest.approx(mean_absolute_error(y, prediction))


def test_bootstrap_is_wider_when_classes_are_large():
    """Clustered rows carry less information than as many independent rows."""
    rng = np.random.default_rng(2)
    per_class = np.repeat(rng.normal(size=200), 10)
    y = per_class + rng.normal(scale=0.1, size=2000)
    prediction = np.zeros(2000)
    clustered = ClassBootstrap("regression", y, np.arange(2000) // 10, 400, 3).score(prediction)[1]
    independent = ClassBootstrap("regression", y, np.arange(2000), 400, 3).score(prediction)[1]
    assert clustered["mae"].std() > 2 * independent["mae"].std()
