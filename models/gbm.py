"""Gradient-boosted trees (LightGBM) with the baselines' interface, and cross-validated
out-of-fold predictions on isogeny-class splits.

Early stopping watches a validation share of the *training* classes, never the test fold.
Models are kept in LightGBM's text format; feature attributions are the gain importances and
the mean |SHAP value| from LightGBM's ``pred_contrib`` (Lundberg et al. 2020, TreeSHAP).

Given a dask.distributed ``client``, a model trains with ``lightgbm.dask`` (data-parallel
LightGBM: the rows are split over the cluster's workers, which build each tree together), then
is brought back as an ordinary local model. ``lightgbm.dask`` has no early stopping, so such a
fit runs a fixed number of rounds (``early_stopping_rounds=0``), e.g. the number early stopping
chose in cross-validation (``rounds_`` of the fold models).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from models.baselines import Task
from models.splits import validation_rows

#: Significant digits of every input value a model sees (:meth:`GbmModel._matrix`).
SIGNIFICANT_DIGITS = 10
#: The largest share of the fitted rows a leaf may be required to hold
#: (:meth:`GbmModel.leaf_minimum`).
LEAF_SHARE_MAX = 0.05


@dataclass
class GbmModel:
    """LightGBM classifier (multiclass or binary) or regressor on ``columns``."""
    task: Task
    columns: list[str]
    seed: int
    n_estimators: int = 300
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_child_samples: int = 20
    early_stopping_rounds: int = 20
    validation_share: float = 0.15
    threads: int = 1
    name: str = "gbm"
    client: object = field(default=None, repr=False)      # dask.distributed.Client, or None
    classes_: np.ndarray = field(default=None, init=False, repr=False)
    rounds_: int = field(default=None, init=False, repr=False)


    @property
    def words(self) -> str:
        """Its inputs in words: a run of more than three columns that differ only in a number
        (ap_2 .. ap_97) is named once, with its count."""
        runs: dict[str, list[str]] = {}
        for column in self.columns:
            runs.setdefault(re.sub(r"\d+", "<n>", column), []).append(column)
        named = [f"{shape} ({len(members)})" if len(members) > 3 else ", ".join(members)
                 for shape, members in runs.items()]
        return f"LightGBM on {len(self.columns)} columns: " + ", ".join(named)

    def _matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """The input matrix, every value rounded to :data:`SIGNIFICANT_DIGITS`: the last bits of
        a feature (another machine's floating point, 1e-12 of noise) never reach a split."""
        return frame.select(pl.col(c).cast(pl.Float64).round_sig_figs(SIGNIFICANT_DIGITS)
                            for c in self.columns).to_numpy()

    def leaf_minimum(self, rows: int) -> int:
        """``min_child_samples``, at most a :data:`LEAF_SHARE_MAX` share of the ``rows`` fitted:
        leaves of 400 curves regularise a search on 45,000 weak-signal rows, and would leave a
        run on a few hundred curves no split at all."""
        return max(1, min(self.min_child_samples, int(rows * LEAF_SHARE_MAX)))

    def _estimator(self, rows: int):
        # LightGBM (0.4 s to import) is imported where a model is built: the params schema,
        # the reports and the stages without models read this module's settings alone
        import lightgbm

        classify = self.task == "classification"
        if self.client is None:
            kind = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
            extra = {"n_jobs": self.threads}
        else:             # threads: those of each dask worker
            kind = lightgbm.DaskLGBMClassifier if classify else lightgbm.DaskLGBMRegressor
            extra = {"client": self.client}
        return kind(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                    num_leaves=self.num_leaves, min_child_samples=self.leaf_minimum(rows),
                    random_state=self.seed, deterministic=True, force_row_wise=True,
                    verbose=-1, **extra)

    def _fit_on_cluster(self, x: np.ndarray, y: np.ndarray) -> None:
        """Data-parallel fit: one block of rows per dask worker, the model brought back."""
        import dask.array

        workers = max(1, len(self.client.scheduler_info()["workers"]))
        rows = -(-len(y) // workers)
        self._model.fit(dask.array.from_array(x, chunks=(rows, x.shape[1])),
                        dask.array.from_array(y, chunks=rows))
        self._model = self._model.to_local()

    def fit(self, frame: pl.DataFrame, target: str,
            classes: np.ndarray | None = None) -> "GbmModel":
        """Fit on ``frame``; with ``classes`` (a cluster per row: twist family or isogeny class)
        a share of whole clusters is held back for early stopping."""
        return self.fit_matrix(self._matrix(frame), frame[target].to_numpy(), classes)

    def fit_matrix(self, x: np.ndarray, y: np.ndarray,
                   classes: np.ndarray | None = None) -> "GbmModel":
        """:meth:`fit` on the rows of this model's input matrix ``x`` (:meth:`_matrix`)."""
        import lightgbm

        self.classes_ = None
        if self.task == "classification":
            # Labels as 0..k-1 before LightGBM sees them: lightgbm 4.7's LGBMClassifier encodes
            # y but not eval_y (lightgbm-org/LightGBM#7400), so early stopping scored torsion
            # orders (1..16) as class indices: wrong losses, and from labels beyond the class
            # count, rounds that changed from run to run.
            self.classes_, y = np.unique(y, return_inverse=True)
        self._model = self._estimator(len(y))
        if self.client is not None:
            if self.early_stopping_rounds:
                raise ValueError("lightgbm.dask has no early stopping: give a fixed number of "
                                 "rounds (early_stopping_rounds=0)")
            self._fit_on_cluster(x, y)
        elif classes is None or self.early_stopping_rounds == 0:
            self._model.fit(x, y)
        else:
            held = validation_rows(classes, np.ones(len(y), bool), self.validation_share, self.seed)
            if self.task == "classification" and set(np.unique(y[held])) - set(np.unique(y[~held])):
                held[:] = False                       # a label only in validation: no stopping
            fit_rows = ~held
            kwargs = {}
            if held.any():
                kwargs = {"eval_X": (x[held],), "eval_y": (y[held],),
                          "callbacks": [lightgbm.early_stopping(self.early_stopping_rounds,
                                                                verbose=False)]}
            self._model.fit(x[fit_rows], y[fit_rows], **kwargs)
        self.rounds_ = self._model.best_iteration_ or self._model.booster_.current_iteration()
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return self.predict_matrix(self._matrix(frame))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        values = self._model.predict(x)
        return values if self.classes_ is None else self.classes_[values.astype(np.int64)]

    def model_text(self) -> str:
        """The fitted booster in LightGBM's text format."""
        return self._model.booster_.model_to_string()

    def attributions(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Per feature: gain importance and mean |SHAP| on ``frame`` (summed over classes)."""
        x = self._matrix(frame)
        contributions = self._model.booster_.predict(x, pred_contrib=True)
        width = len(self.columns) + 1
        shap = np.abs(contributions.reshape(len(x), -1, width)[:, :, :-1]).sum(axis=1).mean(axis=0)
        gain = self._model.booster_.feature_importance(importance_type="gain")
        return pl.DataFrame({"feature": self.columns, "gain": gain.astype(float),
                             "mean_abs_shap": shap})


def model_file(models_dir: Path | str, target: str, group: str) -> Path:
    """The exported model of the pair (``target``, ``group``) in ``models_dir`` (the train
    stage's ``paths.gbm_models``): ``<target>__<group>.txt``, LightGBM's text format
    (:meth:`GbmModel.model_text`)."""
    return Path(models_dir) / f"{target}__{group}.txt"


def out_of_fold(make_model, frame: pl.DataFrame, target: str, folds: np.ndarray,
                classes: np.ndarray) -> np.ndarray:
    """Predictions for every row from a model fitted on the other folds (``folds`` per row).
    A GBM's input matrix is built once and its rows taken per fold (the rounding is per
    value, so this equals building it per fold)."""
    prediction, matrices = None, {}
    for fold in np.unique(folds):
        test = folds == fold
        model = make_model()
        if isinstance(model, GbmModel):
            if tuple(model.columns) not in matrices:
                matrices[tuple(model.columns)] = model._matrix(frame)
            x, y = matrices[tuple(model.columns)], frame[target].to_numpy()
            values = model.fit_matrix(x[~test], y[~test], classes[~test]).predict_matrix(x[test])
        else:
            values = model.fit(frame.filter(~test), target).predict(frame.filter(test))
        if prediction is None:
            prediction = np.empty(len(frame), dtype=values.dtype)
        prediction[test] = values
    return prediction
