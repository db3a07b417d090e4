"""Train/test splits that respect isogeny classes.

Isogenous curves share their L-function, hence rank, a_p and root number: a split that puts one
curve of a class in training and another in testing leaks the answer. Every split here assigns
whole classes. The extrapolation split trains on the smaller conductors and tests on the largest
(a class has one conductor, so it never straddles the cut).
"""
from __future__ import annotations

import numpy as np
import polars as pl


def class_index(frame: pl.DataFrame) -> np.ndarray:
    """0..n_classes−1 for each row, by order of first appearance of its isogeny class."""
    return frame.select(pl.col("isogeny_class").rank("dense").cast(pl.Int64) - 1) \
        .to_series().to_numpy()


def grouped_folds(classes: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold 0..folds−1 of each row: classes shuffled (seeded) and dealt round-robin."""
    n_classes = classes.max() + 1
    if n_classes < folds:
        raise ValueError(f"{n_classes} isogeny classes cannot fill {folds} folds")
    order = np.random.default_rng(seed).permutation(n_classes)
    fold_of_class = np.empty(n_classes, dtype=np.int64)
    fold_of_class[order] = np.arange(n_classes) % folds
    return fold_of_class[classes]


def extrapolation_test(conductor: np.ndarray, test_share: float) -> np.ndarray:
    """True for rows whose conductor is among the largest ``test_share`` of the rows."""
    cut = np.quantile(conductor, 1 - test_share)
    return conductor > cut


def validation_rows(classes: np.ndarray, train: np.ndarray, share: float,
                    seed: int) -> np.ndarray:
    """A seeded share of the training classes held back for early stopping (boolean rows)."""
    train_classes = np.unique(classes[train])
    rng = np.random.default_rng(seed)
    held = rng.choice(train_classes, size=max(1, int(share * len(train_classes))), replace=False)
    return train & np.isin(classes, held)


def sample_classes(classes: pl.Series, size: int | None, seed: int) -> pl.Series:
    """A seeded uniform sample of ``size`` distinct isogeny classes, in their table order
    (all of them when ``size`` is None or not smaller than their number).

    Sampling whole classes keeps the splits honest (no class is cut), and a uniform draw keeps
    the sample's conductor distribution that of the table (up to sampling error)."""
    distinct = classes.unique(maintain_order=True)
    if size is None or size >= len(distinct):
        return distinct
    chosen = np.sort(np.random.default_rng(seed).choice(len(distinct), size, replace=False))
    return distinct.gather(chosen)
