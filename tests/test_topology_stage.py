"""The topology stage on the small pipeline run: one worker or two give the same table."""
from __future__ import annotations

import shutil

import polars as pl
import yaml

from tests.conftest import run


def test_one_worker_equals_two(pipeline_project, tmp_path):
    repo = pipeline_project[0]
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".dvc", ".git", "reports"))
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["topology"]["workers"] = 1
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    run(["python", "-m", "pipeline.topology"], copy)
    single = pl.read_parquet(copy / "data/topology.parquet")
    assert single.equals(pl.read_parquet(repo / "data/topology.parquet"))
    assert set(single["family"]) == {"bsd", "ap", "weierstrass"}
    assert set(single["kind"]) == {"against null clouds", "group difference"}
    assert (single["q_value"].is_between(0, 1).all()
            and (single["q_value"] >= single["p_value"]).all())
    assert not (copy / "data/topology.chunks").exists()
    differences = single.filter(pl.col("kind") == "group difference", pl.col("family") == "bsd")
    assert differences["statistic"].n_unique() > 0 and (differences["curves"] > 0).all()
