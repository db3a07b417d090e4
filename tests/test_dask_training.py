"""Training under the dask executor: the exported models by lightgbm.dask on a LocalCluster on
127.0.0.1; the statistics identical to the local executor's, the models close to its models."""
from __future__ import annotations

import json

import lightgbm
import numpy as np
import polars as pl
import pytest
import yaml

from machinery.cluster import dask_client
from machinery.params import load_params
from models.gbm import GbmModel
from tests.conftest import PROJECT


def _project(tmp_path, model_tables, executor: str):
    from models.features import resolve_groups
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["search"].update(targets=["rank_parity", "log_real_period"], groups={"bsd": ["bsd"]},
                            null_datasets=3, bootstrap=50, folds=3, workers=2, threads=1)
    params["executor"]["kind"] = executor
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    loaded = load_params(tmp_path / "params.yaml")
    (tmp_path / "data").mkdir()
    model_tables["features"].write_parquet(tmp_path / loaded.paths.features)
    model_tables["bsd"].write_parquet(tmp_path / loaded.paths.bsd)
    groups = resolve_groups(model_tables["features"].columns)
    (tmp_path / loaded.paths.feature_groups).write_text(json.dumps(groups))
    return loaded


def _predictions(path, frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    booster = lightgbm.Booster(model_str=path.read_text())
    return booster.predict(frame.select(columns).to_numpy().astype(np.float64))


def test_dask_training_matches_local(tmp_path, monkeypatch, model_tables):
    from pipeline import train
    results = {}
    for executor in ("local", "dask"):
        directory = tmp_path / executor
        directory.mkdir()
        monkeypatch.chdir(directory)
        params = _project(directory, model_tables, executor)
        results[executor] = [json.loads(p.read_text()) for p in train.run_all(params)[1]]
        results[executor + "_dir"] = params.paths.train_cache.resolve()
    local, remote = results["local"], results["dask"]
    # the statistics (local processes under both executors) agree to the bit
    drop = ("attributions", "seconds")
    assert [{k: v for k, v in r.items() if k not in drop} for r in remote] == \
        [{k: v for k, v in r.items() if k not in drop} for r in local]
    assert all(r["gbm_rounds"] >= 1 for r in local)
    # the exported models: LightGBM text, the same number of trees, near-equal predictions
    frame = model_tables["frame"]
    columns = [a["feature"] for a in local[0]["attributions"]]
    for name in ("rank_parity__bsd", "log_real_period__bsd"):
        (ours,) = results["local_dir"].glob(f"{name}-*.txt")
        (theirs,) = results["dask_dir"].glob(f"{name}-*.txt")
        assert ours.read_text() != theirs.read_text()          # fitted on a cluster, not here
        assert lightgbm.Booster(model_str=theirs.read_text()).num_trees() == \
            lightgbm.Booster(model_str=ours.read_text()).num_trees()
        a, b = _predictions(ours, frame, columns), _predictions(theirs, frame, columns)
        if name.startswith("rank_parity"):
            assert np.mean((a > 0.5) == (b > 0.5)) > 0.98
        else:
            assert np.corrcoef(a, b)[0, 1] > 0.99


def test_dask_model_needs_fixed_rounds(model_tables):
    frame = model_tables["frame"].with_columns(y=pl.col("log_real_period"))
    with dask_client(None, 2, 1) as client:
        model = GbmModel("regression", ["log_conductor", "log_tamagawa_product"], seed=1,
                         n_estimators=7, early_stopping_rounds=0, client=client)
        assert model.fit(frame, "y").rounds_ == 7
        assert model.predict(frame).shape == (len(frame),)
        with pytest.raises(ValueError, match="lightgbm.dask has no early stopping"):
            GbmModel("regression", ["log_conductor"], seed=1, client=client).fit(frame, "y")
