"""The search frame: the Cremona features and BSD columns the train and bias stages share."""
from __future__ import annotations

import polars as pl
import yaml

from machinery.params import load_params
from pipeline.frames import search_frame
from tests.conftest import PROJECT


def _params(tmp_path, model_tables, sample_classes):
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    raw["search"]["sample_classes"] = sample_classes
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    paths = params.paths.model_copy(update={"features": tmp_path / "features.parquet",
                                            "bsd": tmp_path / "bsd.parquet"})
    model_tables["features"].write_parquet(paths.features)
    model_tables["bsd"].write_parquet(paths.bsd)
    return params.model_copy(update={"paths": paths})


def test_whole_table_without_a_sample(tmp_path, model_tables):
    frame = search_frame(_params(tmp_path, model_tables, None))
    assert frame.equals(model_tables["frame"])


def test_sample_of_classes_keeps_rows_in_table_order(tmp_path, model_tables):
    params = _params(tmp_path, model_tables, 200)
    frame = search_frame(params)
    assert frame["isogeny_class"].n_unique() == 200
    expected = model_tables["frame"].filter(
        pl.col("isogeny_class").is_in(frame["isogeny_class"].unique().to_list()))
    assert frame.equals(expected)   # whole classes, same rows, same order
    assert search_frame(params).equals(frame)

