"""The GBM predictor: text-format models, attributions, out-of-fold predictions."""
from __future__ import annotations

import lightgbm
import numpy as np
import polars as pl

from models.gbm import GbmModel, out_of_fold
from models.splits import class_index, grouped_folds


def test_text_model_reloads_and_predicts_the_same(model_tables):
    frame = model_tables["frame"].with_columns(big=(pl.col("conductor") > 500).cast(pl.Int64))
    model = GbmModel("classification", ["log_conductor", "bad_primes"], seed=1, n_estimators=30)
    model.fit(frame, "big", class_index(frame))
    booster = lightgbm.Booster(model_str=model.model_text())
    x = frame.select("log_conductor", "bad_primes").to_numpy()
    assert np.array_equal((booster.predict(x) > 0.5).astype(int), model.predict(frame))
    attributions = model.attributions(frame.head(500))
    assert attributions["feature"].to_list() == ["log_conductor", "bad_primes"]
    top = attributions.sort("mean_abs_shap", descending=True)["feature"][0]
    assert top == "log_conductor"


def test_out_of_fold_predictions_never_see_their_class(model_tables):
    frame = model_tables["frame"]
    classes = class_index(frame)
    folds = grouped_folds(classes, 4, seed=0)
    # a target that is pure per-class noise: memorizing classes would score, generalizing cannot
    noise = np.random.default_rng(0).normal(size=classes.max() + 1)[classes]
    frame = frame.with_columns(noise=pl.Series(noise), class_id=pl.Series(classes))
    make = lambda: GbmModel("regression", ["class_id"], seed=0, n_estimators=50)  # noqa: E731
    prediction = out_of_fold(make, frame, "noise", folds, classes)
    assert np.corrcoef(prediction, noise)[0, 1] < 0.1


def test_out_of_fold_equals_a_fit_per_fold(model_tables):
    """The input matrix built once and cut per fold gives the predictions of fitting and
    predicting each fold's own frames."""
    frame = model_tables["frame"]
    classes = class_index(frame)
    folds = grouped_folds(classes, 4, seed=2)
    columns = ["log_conductor", "ap_2", "ap_3", "ap_5", "slog_discriminant"]
    make = lambda: GbmModel("regression", columns, seed=1, n_estimators=40,  # noqa: E731
                            early_stopping_rounds=5)
    expected = np.empty(len(frame))
    for fold in range(4):
        test = folds == fold
        model = make().fit(frame.filter(~test), "log_real_period", classes[~test])
        expected[test] = model.predict(frame.filter(test))
    assert np.array_equal(out_of_fold(make, frame, "log_real_period", folds, classes), expected)


def test_class_labels_are_encoded_for_early_stopping_too(model_tables):
    """Torsion orders as labels (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16): the validation loss that
    early stopping watches must be the one of the same classes labelled 0..k-1 (lightgbm 4.7
    leaves eval_y unencoded, lightgbm-org/LightGBM#7400), and predictions come back as orders."""
    frame = model_tables["frame"].filter(pl.col("torsion").is_in([1, 2, 3, 4, 5, 6, 8]))
    orders = np.unique(frame["torsion"].to_numpy())
    frame = frame.with_columns(index=pl.col("torsion").replace_strict(
        orders.tolist(), list(range(len(orders)))))
    classes = class_index(frame)
    fitted = {}
    for label in ("torsion", "index"):
        model = GbmModel("classification", ["ap_2", "ap_3", "ap_5", "ap_7"], seed=1,
                         n_estimators=40, early_stopping_rounds=5)
        fitted[label] = model.fit(frame, label, classes)
    loss = {k: m._model.evals_result_["valid_0"]["multi_logloss"] for k, m in fitted.items()}
    assert loss["torsion"] == loss["index"] and fitted["torsion"].rounds_ == fitted["index"].rounds_
    predicted = fitted["torsion"].predict(frame)
    assert set(predicted) <= set(orders) and np.array_equal(
        predicted, orders[fitted["index"].predict(frame)])
    assert np.mean(predicted == frame["torsion"].to_numpy()) > 0.5


def test_the_leaf_minimum_shrinks_with_a_small_run():
    """400 curves a leaf on the default run's 45,000 training rows; a twentieth of the rows on
    a run of a few hundred curves, which could otherwise not split at all."""
    model = GbmModel("regression", ["x"], seed=1, min_child_samples=400)
    assert model.leaf_minimum(45_000) == 400 and model.leaf_minimum(600) == 30
    assert model.leaf_minimum(10) == 1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 1))
    fitted = model.fit_matrix(x, (x[:, 0] > 0).astype(float) + 0.1 * rng.normal(size=600))
    assert np.corrcoef(fitted.predict_matrix(x), x[:, 0] > 0)[0, 1] > 0.9


def test_an_exported_model_is_named_by_its_pair(tmp_path):
    """One name for the train stage's exported model, which the dashboard's pages open."""
    from models.gbm import model_file

    assert model_file(tmp_path, "rank", "ap") == tmp_path / "rank__ap.txt"
    assert model_file(str(tmp_path), "log_sha_an", "bsd") == tmp_path / "log_sha_an__bsd.txt"
