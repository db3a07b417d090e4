"""The train stage resumes: finished (target, group) pairs are kept, stale ones are cleared."""
from __future__ import annotations

import json

import polars as pl
import yaml

from pipeline.params import load_params
from tests.conftest import PROJECT


def test_train_resumes_pair_by_pair(tmp_path, monkeypatch, model_tables):
    from models.features import resolve_groups
    from pipeline import train
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["search"].update(targets=["rank_parity", "log_sha_an"], groups={"bsd": ["bsd"]},
                            null_datasets=3, bootstrap=50, folds=3, workers=1, threads=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    loaded = load_params()
    (tmp_path / "data").mkdir()
    model_tables["features"].write_parquet(loaded.paths.features)
    model_tables["bsd"].write_parquet(loaded.paths.bsd)
    groups = resolve_groups(model_tables["features"].columns, loaded.features.groups)
    loaded.paths.feature_groups.write_text(json.dumps(groups))

    first = train.run_all(loaded)
    assert [p.name.split("-")[0] for p in first] == ["rank_parity__bsd", "log_sha_an__bsd"]
    stale = loaded.paths.train_chunks / "old__pair-0000.json"
    stale.write_text("{}")
    kept = first[1].stat().st_mtime_ns
    first[0].unlink()
    again = train.run_all(loaded)
    assert again == first and first[1].stat().st_mtime_ns == kept and not stale.exists()

    train.main()
    evaluations = pl.read_parquet(loaded.paths.evaluations)
    assert evaluations["target"].to_list() == ["rank_parity", "log_sha_an"]
    assert sorted(p.name for p in loaded.paths.gbm_models.iterdir()) == \
        ["log_sha_an__bsd.txt", "rank_parity__bsd.txt"]
    importances = pl.read_parquet(loaded.paths.importances)
    assert set(importances["feature"]) <= set(groups["bsd"]) and len(importances) > 0
    assert not loaded.paths.train_chunks.exists()
