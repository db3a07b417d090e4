"""`dvc repro` end to end in a scratch copy of the project (small range, no remote): the
session fixture ``pipeline_project`` ran it cold; here a no-op rerun and a params change."""
from __future__ import annotations

import json
import sys

import polars as pl
import yaml

from arithmetic.feature_groups import FEATURE_GROUPS
from tests.conftest import run


def test_dvc_repro_from_scratch_then_noop_then_param_change(pipeline_project):
    repo, params, first = pipeline_project
    stages = ("ingest", "bsd", "invariants", "features", "train", "height_sample",
              "stein_watkins", "bias", "findings", "controls", "topology", "murmurations",
              "report")
    assert all(f"Running stage '{stage}'" in first for stage in stages)
    bsd = pl.read_parquet(repo / "data/bsd.parquet")
    curves = pl.read_parquet(repo / "data/curves.parquet")
    assert bsd["label"].to_list() == curves["label"].to_list() and len(bsd) > 1000
    metrics = json.loads((repo / "metrics/bsd.json").read_text())
    assert metrics["curves"] == len(bsd) and sum(metrics["rank"].values()) == len(bsd)

    features = pl.read_parquet(repo / "data/features.parquet")
    groups = json.loads((repo / "data/feature_groups.json").read_text())
    assert (features["label"].equals(bsd["label"])
            and list(groups) == list(FEATURE_GROUPS))

    findings = pl.read_parquet(repo / "data/findings.parquet")
    assert len(findings) == 15 and findings["verdict"].null_count() == 0
    # the declared target went through the same engine, into the report
    declared = findings.filter(pl.col("target") == "sha_times_period")
    assert declared["group"].to_list() == ["ap", "bsd", "parity"]
    # from the root number it knows nothing (no law of Sha or of the period reads it): its
    # added value is the features' over the constant
    assert declared["known_gbm_score"].is_null().to_list() == [False, False, True]
    assert declared["added_value"].null_count() == 0
    assert "sha_times_period" in (repo / "reports/findings.md").read_text()
    # the positive controls: explained with their law, the parity conjecture found without it
    controls = pl.read_parquet(repo / "data/controls.parquet")
    assert controls["law"].to_list() == ["parity conjecture", "BSD formula"]
    assert controls["verdict_with_law"][0] == "explained by parity conjecture"
    assert controls["found"][0] and controls["verdict"][0] == "flagged"
    assert "## Would this engine have found what we know?" in (
        repo / "reports/findings.md").read_text()
    assert sorted((repo / "data/gbm_models").iterdir())[0].read_text().startswith("tree")
    verdicts = json.loads((repo / "metrics/findings.json").read_text())["verdicts"]
    assert sum(verdicts.values()) == 15

    again = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "Data and pipelines are up to date" in again.stdout

    changed = {**params, "bsd": {**params["bsd"], "chunk_size": 50}}
    (repo / "params.yaml").write_text(yaml.safe_dump(changed))
    third = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "Stage 'ingest' didn't change" in third.stdout and "Running stage 'bsd'" in third.stdout
    assert pl.read_parquet(repo / "data/bsd.parquet").equals(bsd)
    assert "Stage 'features' didn't change" in third.stdout     # same bsd.parquet, same hash
    # a param no pair reads: features reruns, its table is the same, train does not run
    workers = {**params, "features": {**params["features"], "workers": 1}}
    (repo / "params.yaml").write_text(yaml.safe_dump(workers))
    fourth = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "Running stage 'features'" in fourth.stdout
    assert "Stage 'train' didn't change" in fourth.stdout
    (repo / "params.yaml").write_text(yaml.safe_dump(params))     # as the other tests found it
    run([sys.executable, "-m", "dvc", "repro"], repo)
