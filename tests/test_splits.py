"""Splits never separate the curves of one isogeny class."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.splits import class_index, extrapolation_test, grouped_folds, validation_rows


def test_folds_keep_classes_whole_and_are_balanced(model_tables):
    frame = model_tables["frame"]
    classes = class_index(frame)
    folds = grouped_folds(classes, 5, seed=1)
    per_class = pl.DataFrame({"c": classes, "f": folds}).group_by("c").agg(pl.col("f").n_unique())
    assert per_class["f"].max() == 1
    sizes = np.bincount(folds)
    assert len(sizes) == 5 and sizes.min() > 0.8 * sizes.max()
    assert np.array_equal(folds, grouped_folds(classes, 5, seed=1))
    assert not np.array_equal(folds, grouped_folds(classes, 5, seed=2))
    with pytest.raises(ValueError, match="cannot fill"):
        grouped_folds(np.array([0, 0, 1]), 5, seed=0)


def test_extrapolation_tests_on_the_largest_conductors(model_tables):
    conductor = model_tables["frame"]["conductor"].to_numpy()
    test = extrapolation_test(conductor, 0.2)
    assert conductor[test].min() > conductor[~test].max()
    assert 0.15 < test.mean() < 0.25


def test_validation_rows_are_whole_training_classes():
    classes = np.repeat(np.arange(100), 3)
    train = classes < 80
    held = validation_rows(classes, train, 0.25, seed=0)
    assert not np.any(held & ~train)
    assert len(np.unique(classes[held])) == 20
    assert np.all(np.isin(classes[train & ~held], classes[held], invert=True))


def test_class_sample_is_seeded_whole_and_spread_over_conductors(model_tables):
    from models.splits import sample_classes
    frame = model_tables["frame"]
    classes = frame["isogeny_class"]
    chosen = sample_classes(classes, 300, seed=7)
    assert len(chosen) == 300 and chosen.n_unique() == 300
    assert chosen.to_list() == sample_classes(classes, 300, seed=7).to_list()
    assert chosen.to_list() != sample_classes(classes, 300, seed=8).to_list()
    kept = frame.filter(pl.col("isogeny_class").is_in(chosen.to_list()))
    assert kept["isogeny_class"].n_unique() == 300
    # uniform over classes: the median conductor moves by sampling error only
    median = frame.unique("isogeny_class")["conductor"].median()
    assert abs(kept.unique("isogeny_class")["conductor"].median() - median) < 0.15 * median
    assert (sample_classes(classes, None, seed=7).to_list()
            == classes.unique(maintain_order=True).to_list())
    assert len(sample_classes(classes, 10**6, seed=7)) == classes.n_unique()
